package webhook

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Handlers are the webhook endpoints. A nil field is an endpoint that is
// off because its secret is not set.
type Handlers struct {
	GitHub  http.Handler
	Generic http.Handler
}

// New builds the endpoints whose secrets are set.
func New(opts Options) (*Handlers, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Handlers{}
	// One cap for both endpoints: what it bounds is the process's memory
	// and goroutines, not one endpoint's.
	inFlight := make(chan struct{}, opts.MaxInFlight)
	if len(opts.GitHubSecret) > 0 {
		gh := github{opts: opts, replays: newReplays(opts.ReplayWindow, opts.MaxRemembered)}
		h.GitHub = &endpoint{name: EndpointGitHub, opts: opts, inFlight: inFlight, handle: gh.handle}
	}
	if len(opts.GenericToken) > 0 {
		h.Generic = &endpoint{name: EndpointGeneric, opts: opts, inFlight: inFlight, handle: generic{opts}.handle}
	}
	return h, nil
}

// Register adds the endpoints that are on to mux at PathGitHub and
// PathGeneric, for every method, so that a wrong method is answered (405)
// and observed here too.
func (h *Handlers) Register(mux *http.ServeMux) {
	if h.GitHub != nil {
		mux.Handle(PathGitHub, h.GitHub)
	}
	if h.Generic != nil {
		mux.Handle(PathGeneric, h.Generic)
	}
}

// outcome is what one request came to: the answer, and what to log.
type outcome struct {
	status  int
	result  string
	message string
	attrs   []any
}

// endpoint does what both endpoints share: the in-flight cap, method,
// answer, observation and the log line; handle authenticates and judges
// the request, reading its body only if it must.
type endpoint struct {
	name     string
	opts     Options
	inFlight chan struct{}
	handle   func(w http.ResponseWriter, r *http.Request) outcome
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := e.serve(w, r)
	e.opts.Observe(e.name, out.result)

	level := slog.LevelDebug
	switch out.result {
	case ResultTriggered:
		level = slog.LevelInfo
	case ResultUnauthorized, ResultBadRequest, ResultTooLarge, ResultTimeout, ResultBusy:
		level = slog.LevelWarn
	}
	attrs := append([]any{"endpoint", e.name, "result", out.result, "remote", r.RemoteAddr}, out.attrs...)
	e.opts.Logger.Log(r.Context(), level, "webhook: "+out.message, attrs...)

	switch out.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	if out.status >= http.StatusBadRequest {
		// A refused request's unread body is not worth waiting for: the
		// connection closes after the answer, and a read deadline in the
		// past stops the server from draining what is left of the body
		// first (it would, up to 256 KiB, for a trickling client until
		// ReadTimeout). Not supported only where there is no connection.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(out.status)
	_ = json.NewEncoder(w).Encode(struct {
		Result  string `json:"result"`
		Message string `json:"message"`
	}{out.result, out.message})
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) outcome {
	select {
	case e.inFlight <- struct{}{}:
		defer func() { <-e.inFlight }()
	default:
		return outcome{http.StatusServiceUnavailable, ResultBusy, "too many webhook requests in flight; retry", []any{"limit", cap(e.inFlight)}}
	}
	if r.Method != http.MethodPost {
		return outcome{http.StatusMethodNotAllowed, ResultMethodNotAllowed, "only POST is served", nil}
	}
	return e.handle(w, r)
}
