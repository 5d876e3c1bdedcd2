package reconcile

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// never is a schedule that does not fire within a test.
type never struct{}

func (never) Next(t time.Time) time.Time { return t.Add(time.Hour) }

// Triggers that arrive while a reconcile runs are coalesced into exactly
// one follow-up run, and no two reconciles ever overlap.
func TestLoopCoalescesTriggersIntoOneFollowUpAndNeverOverlaps(t *testing.T) {
	var (
		running, overlaps, runs atomic.Int32
		release                 = make(chan struct{})
		started                 = make(chan string, 10)
		reasons                 []string
		mu                      sync.Mutex
	)
	l := New(func(ctx context.Context, reason string) error {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer running.Add(-1)
		runs.Add(1)
		mu.Lock()
		reasons = append(reasons, reason)
		mu.Unlock()
		started <- reason
		<-release
		return nil
	}, never{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()

	<-started // the start-up reconcile is running
	for range 5 {
		l.Trigger("push")
	}
	release <- struct{}{} // finish the first run
	if got := <-started; got != "push" {
		t.Fatalf("follow-up run triggered by %q, want push", got)
	}
	release <- struct{}{}
	<-l.idle
	<-l.idle
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 2 || overlaps.Load() != 0 {
		t.Errorf("runs %d (reasons %v), overlaps %d; want 2 runs (start, one coalesced push) and none overlapping", runs.Load(), reasons, overlaps.Load())
	}
}

// The schedule fires reconciles on its own when nothing triggers them.
func TestLoopReconcilesOnTheSchedule(t *testing.T) {
	sched, err := ParseSchedule("@every 50ms")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	l := New(func(ctx context.Context, reason string) error { got <- reason; return nil }, sched)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx) }()
	if r := <-got; r != "start" {
		t.Fatalf("first run %q, want start", r)
	}
	if r := <-got; r != "schedule" {
		t.Fatalf("second run %q, want schedule", r)
	}
}

func TestParseScheduleNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{DefaultSchedule, true},
		{"@every 1m", true},
		{"*/5 * * *", false},
		{"every five minutes", false},
	} {
		_, err := ParseSchedule(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSchedule(%q) = %v, want ok=%v", tc.spec, err, tc.ok)
		}
		if err != nil && !containsAll(err.Error(), "--schedule", tc.spec) {
			t.Errorf("error %q does not name the flag and value", err)
		}
	}
	var _ cron.Schedule = never{}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
