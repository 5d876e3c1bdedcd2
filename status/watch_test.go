package status

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A report taken later with nothing else changed is the same; a changed
// record is not.
func TestSameIgnoresOnlyTheTime(t *testing.T) {
	a := upgrading()
	b := upgrading()
	b.Time = a.Time.Add(time.Minute)
	if !Same(a, b) {
		t.Error("reports differing only in time are not the same")
	}
	b.Record.Suspended = !a.Record.Suspended
	if Same(a, b) {
		t.Error("a changed record is the same")
	}
}

// In a pipe, watch emits the first report and then only changed ones; an
// error after the first report is passed on and the watch goes on; it
// ends with its context.
func TestWatchEmitsOnlyChangesAndOutlivesAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := upgrading()
	changed := upgrading()
	changed.Record.Suspended = !base.Record.Suspended
	boom := errors.New("connection refused")
	script := []struct {
		r   Report
		err error
	}{{base, nil}, {base, nil}, {Report{}, boom}, {base, nil}, {changed, nil}, {changed, nil}}
	n := 0
	observe := func(context.Context) (Report, error) {
		s := script[n]
		n++
		if n == len(script) {
			cancel()
		}
		s.r.Time = s.r.Time.Add(time.Duration(n) * time.Second)
		return s.r, s.err
	}
	var emitted []Report
	var errs []error
	o := WatchOptions{Interval: time.Millisecond, OnError: func(err error) { errs = append(errs, err) }}
	if err := Watch(ctx, observe, func(r Report) error { emitted = append(emitted, r); return nil }, o); err != nil {
		t.Fatal(err)
	}
	if len(emitted) != 2 || !Same(emitted[0], base) || !Same(emitted[1], changed) {
		t.Errorf("emitted %d reports, want the first and the changed one", len(emitted))
	}
	if len(errs) != 1 || !errors.Is(errs[0], boom) {
		t.Errorf("errors passed on: %v", errs)
	}
}

// The first observation's error ends the watch: there is nothing to show.
func TestWatchEndsOnAFirstError(t *testing.T) {
	boom := errors.New("forbidden")
	err := Watch(context.Background(), func(context.Context) (Report, error) { return Report{}, boom },
		func(Report) error { t.Error("emitted"); return nil }, DefaultWatchOptions())
	if !errors.Is(err, boom) {
		t.Errorf("watch returned %v, want %v", err, boom)
	}
}
