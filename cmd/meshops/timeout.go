package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// answerTimeout is --request-timeout as meshops applies it: how long the API
// server may take to start answering a request (its response headers).
// client-go's own Timeout bounds the whole exchange, which would also cut
// the watches meshops keeps open while a workload rolls out and the
// streamed lists of a large fleet; a server that accepts the connection and
// then stays silent is caught either way.
type answerTimeout struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (a *answerTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(a.timeout, cancel)
	resp, err := a.next.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// It fired: whatever the transport returned, the cause is the timeout.
		if resp != nil {
			resp.Body.Close()
		}
		cancel()
		// DeadlineExceeded: a timeout, and not one retried (retry.Transient).
		return nil, fmt.Errorf("no answer within --request-timeout %s: %w", a.timeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends the request's context once its body is read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}
