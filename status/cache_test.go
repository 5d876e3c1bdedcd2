package status

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestCachedReadsTheClusterOnceForManyRequests(t *testing.T) {
	var calls int
	source := Cached(func(context.Context) (Report, error) {
		calls++
		return upgrading(), nil
	}, time.Hour)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := source(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if calls != 1 {
		t.Errorf("source called %d times, want once", calls)
	}
}

func TestCachedKeepsNoFailure(t *testing.T) {
	fail := true
	var calls int
	source := Cached(func(context.Context) (Report, error) {
		calls++
		if fail {
			return Report{}, errors.New("connection refused")
		}
		return upgrading(), nil
	}, time.Hour)
	if _, err := source(context.Background()); err == nil {
		t.Fatal("want the source's error")
	}
	fail = false
	r, err := source(context.Background())
	if err != nil || r.Tag.Name != "prod-stable" || calls != 2 {
		t.Errorf("after a failure: %v, tag %q, %d calls; want a fresh read", err, r.Tag.Name, calls)
	}
}

func TestCachedZeroMaxAgeReadsEveryTime(t *testing.T) {
	var calls int
	source := Cached(func(context.Context) (Report, error) { calls++; return Report{}, nil }, 0)
	for range 3 {
		if _, err := source(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("%d calls, want 3", calls)
	}
}
