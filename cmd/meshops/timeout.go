package main

import (
	"context"
	"errors"
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
// then stays silent is caught either way. It also ends every request when
// the command's context ends (--timeout), which client-go's discovery
// calls would not otherwise see.
type answerTimeout struct {
	next    http.RoundTripper
	timeout time.Duration // 0: no bound
	command context.Context
}

func (a *answerTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stopCommand := context.AfterFunc(a.command, cancel)
	timedOut := func() bool { return false }
	if a.timeout > 0 {
		timer := time.AfterFunc(a.timeout, cancel)
		timedOut = func() bool { return !timer.Stop() }
	}
	resp, err := a.next.RoundTrip(req.WithContext(ctx))
	late := timedOut()
	if late || a.command.Err() != nil {
		if resp != nil {
			resp.Body.Close()
		}
		stopCommand()
		cancel()
		// DeadlineExceeded: a timeout, and not one retried (retry.Transient).
		switch cerr := a.command.Err(); {
		case late:
			return nil, fmt.Errorf("no answer within --request-timeout %s: %w", a.timeout, context.DeadlineExceeded)
		case errors.Is(cerr, context.DeadlineExceeded):
			return nil, fmt.Errorf("the command ran past --timeout: %w", cerr)
		default:
			return nil, cerr
		}
	}
	if err != nil {
		stopCommand()
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { stopCommand(); cancel() }}
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
