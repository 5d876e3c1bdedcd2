package webhook

import (
	"sync"
	"time"
)

// replays remembers accepted deliveries for a window, at most max of
// them: a ring of keys in arrival order and their times. A key is either a
// delivery id or a body signature.
type replays struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
	ring []remembered
	next int
}

type remembered struct {
	key string
	at  time.Time
}

func newReplays(window time.Duration, max int) *replays {
	return &replays{window: window, now: time.Now, seen: make(map[string]time.Time, max), ring: make([]remembered, max)}
}

// check reports whether any of keys ("" ones are skipped) was remembered
// within the window; when none was, it remembers them all.
func (r *replays) check(keys ...string) (replayed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, k := range keys {
		if t, ok := r.seen[k]; ok && k != "" && now.Sub(t) < r.window {
			return true
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		// The oldest entry leaves; its key stays when it was remembered
		// again since (a later entry of the ring holds it).
		if old := r.ring[r.next]; old.key != "" && r.seen[old.key].Equal(old.at) {
			delete(r.seen, old.key)
		}
		r.ring[r.next] = remembered{k, now}
		r.next = (r.next + 1) % len(r.ring)
		r.seen[k] = now
	}
	return false
}
