package status

import (
	"context"
	"reflect"
	"time"
)

// Same reports whether a and b show the same mesh and record: everything
// but the time they were taken, so that a watch prints a report again only
// when something in it changed.
func Same(a, b Report) bool {
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// WatchOptions tune Watch.
type WatchOptions struct {
	// Interval between two observations. Default 2s.
	Interval time.Duration
	// Every: emit every report, changed or not (a screen redrawn with the
	// time and relative ages); else only those that differ from the last
	// emitted (a pipe, NDJSON).
	Every bool
	// OnError is told of an observation that failed after the first; the
	// watch goes on at the next interval. Default: ignored.
	OnError func(error)
}

// DefaultWatchOptions is a report every 2 s, only when it changed.
func DefaultWatchOptions() WatchOptions { return WatchOptions{Interval: 2 * time.Second} }

// Watch observes until ctx ends and emits the reports o asks for. The
// first observation's error ends the watch (nothing to show, likely a
// wrong cluster or no rights); later ones are passed to OnError, since a
// watch outlives a restarting API server. An emit error ends the watch.
// It returns nil when ctx ends.
func Watch(ctx context.Context, observe func(context.Context) (Report, error), emit func(Report) error, o WatchOptions) error {
	if o.Interval <= 0 {
		o.Interval = DefaultWatchOptions().Interval
	}
	var (
		last    Report
		emitted bool
	)
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		r, err := observe(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !emitted:
			return err
		case err != nil:
			if o.OnError != nil {
				o.OnError(err)
			}
		case !emitted || o.Every || !Same(last, r):
			if err := emit(r); err != nil {
				return err
			}
			last, emitted = r, true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
