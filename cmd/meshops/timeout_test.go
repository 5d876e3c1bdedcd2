package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// --request-timeout bounds how long the server takes to start answering,
// not how long the answer lasts: a watch (headers at once, events for
// minutes) outlives it, a server that never answers does not.
func TestRequestTimeoutEndsASilentServerButNotALongAnswer(t *testing.T) {
	const timeout = 100 * time.Millisecond
	silent := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/silent" {
			<-silent
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(5 * timeout) // a watch: the events come later
		_, _ = io.WriteString(w, "event")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(silent) })
	c := &http.Client{Transport: &answerTimeout{next: http.DefaultTransport, timeout: timeout, command: context.Background()}}

	resp, err := c.Get(srv.URL + "/watch")
	if err != nil {
		t.Fatalf("a server that answers at once failed: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "event" {
		t.Errorf("the answer was cut after --request-timeout: %q, %v", body, err)
	}

	if _, err := c.Get(srv.URL + "/silent"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a silent server: %v, want a deadline exceeded", err)
	}
}
