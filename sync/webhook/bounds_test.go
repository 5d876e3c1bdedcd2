package webhook

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingBody records how much of a request body a handler read.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}
func (c *countingBody) Close() error { return nil }

// Unauthenticated requests cost no body read: the generic endpoint never
// reads one, GitHub's refuses a missing or malformed signature and a
// declared length over the limit before reading.
func TestUnauthenticatedRequestsAreRefusedBeforeTheBodyIsRead(t *testing.T) {
	const size = 5 << 20
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		status int
	}{
		{"generic without a token", PathGeneric, nil, 401},
		{"generic with a wrong token", PathGeneric, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"github without a signature", PathGitHub, map[string]string{"X-GitHub-Event": "push"}, 401},
		{"github with a malformed signature", PathGitHub, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=abcd"}, 401},
		{"github signed, declared length over the limit", PathGitHub, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + strings.Repeat("ab", 32)}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			mux := http.NewServeMux()
			newHandlers(t, rec, 0).Register(mux)
			body := &countingBody{r: bytes.NewReader(make([]byte, size))}
			r := httptest.NewRequest(http.MethodPost, tc.path, nil)
			r.Body, r.ContentLength = body, size
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != tc.status || body.read != 0 || len(rec.triggers) != 0 {
				t.Errorf("status %d (want %d), %d body bytes read (want 0), triggers %v", w.Code, tc.status, body.read, rec.triggers)
			}
		})
	}
}

// A signed push is accepted once: the same delivery again, or its body
// under a new delivery id (the id is not signed), triggers nothing, and a
// new delivery does; deliveries are forgotten after the window.
func TestReplayedGitHubDeliveriesDoNotTriggerAgain(t *testing.T) {
	rec := &recorder{}
	h := newHandlers(t, rec, 0)
	gh := h.GitHub.(*endpoint)
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	replays := newReplays(time.Hour, 8)
	replays.now = func() time.Time { return now }
	gh.handle = github{opts: gh.opts, replays: replays}.handle

	push := func(delivery string, body []byte) int {
		r := githubRequest("POST", "push", body, sign(secret, body))
		r.Header.Set("X-GitHub-Delivery", delivery)
		w := httptest.NewRecorder()
		h.GitHub.ServeHTTP(w, r)
		return w.Code
	}
	first := pushBody("refs/heads/main", false)
	second := bytes.Replace(first, []byte("1a2b"), []byte("9f8e"), 1)
	for _, step := range []struct {
		name     string
		delivery string
		body     []byte
		triggers int
	}{
		{"first delivery", "d-1", first, 1},
		{"the same delivery replayed", "d-1", first, 1},
		{"its body under a new id", "d-2", first, 1},
		{"its id with another body", "d-1", second, 1},
		{"a new push", "d-3", second, 2},
	} {
		if code := push(step.delivery, step.body); code != http.StatusAccepted {
			t.Errorf("%s: status %d, want 202", step.name, code)
		}
		if len(rec.triggers) != step.triggers {
			t.Errorf("%s: %d triggers, want %d", step.name, len(rec.triggers), step.triggers)
		}
	}
	if want := "github/triggered github/duplicate github/duplicate github/duplicate github/triggered"; strings.Join(rec.observed, " ") != want {
		t.Errorf("observed %v, want %s", rec.observed, want)
	}
	now = now.Add(2 * time.Hour)
	if push("d-1", first); len(rec.triggers) != 3 {
		t.Errorf("a delivery past the window triggered %d times in all, want 3", len(rec.triggers))
	}
}

// The replay memory is bounded: the oldest deliveries are forgotten first.
func TestReplaysForgetTheOldestBeyondTheirBound(t *testing.T) {
	r := newReplays(time.Hour, 4)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if r.check(k) {
			t.Fatalf("%s seen before it was added", k)
		}
	}
	if len(r.seen) != 4 {
		t.Errorf("%d remembered, want 4", len(r.seen))
	}
	if !r.check("e") || r.check("a") {
		t.Error("want e remembered and a (the oldest) forgotten")
	}
}

// Over MaxInFlight, a webhook request is answered 503 at once, without
// waiting for the others or reading anything.
func TestRequestsOverTheInFlightCapGet503AtOnce(t *testing.T) {
	var mu sync.Mutex
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	var observed []string
	h, err := New(Options{
		GenericToken: token, MaxInFlight: 2, Logger: slog.New(slog.DiscardHandler),
		Trigger: func(string) { entered <- struct{}{}; <-release },
		Observe: func(e, r string) { mu.Lock(); observed = append(observed, r); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, PathGeneric, nil)
		r.Header.Set("Authorization", "Bearer "+string(token))
		return r
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { h.Generic.ServeHTTP(httptest.NewRecorder(), req()) })
	}
	<-entered
	<-entered
	w := httptest.NewRecorder()
	h.Generic.ServeHTTP(w, req())
	close(release)
	wg.Wait()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("third request: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	w = httptest.NewRecorder()
	h.Generic.ServeHTTP(w, req())
	if w.Code != http.StatusAccepted {
		t.Errorf("after the others ended: %d, want 202", w.Code)
	}
}
