package status

import (
	"context"
	"time"
)

// Cached wraps source for the status page, which anyone who reaches
// meshops' listener may reload as often as they like: a report younger
// than maxAge is served again, and concurrent requests wait for one read
// instead of each listing the cluster. A failed read is not kept, so the
// next request tries again. A waiting request gives up with its context.
func Cached(source func(context.Context) (Report, error), maxAge time.Duration) func(context.Context) (Report, error) {
	var (
		one  = make(chan struct{}, 1)
		last Report
		at   time.Time
	)
	return func(ctx context.Context) (Report, error) {
		select {
		case one <- struct{}{}:
		case <-ctx.Done():
			return Report{}, ctx.Err()
		}
		defer func() { <-one }()
		if !at.IsZero() && time.Since(at) < maxAge {
			return last, nil
		}
		r, err := source(ctx)
		if err != nil {
			return Report{}, err
		}
		last, at = r, time.Now()
		return r, nil
	}
}
