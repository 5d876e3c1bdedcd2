package webhook

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
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
	if len(opts.GitHubSecret) > 0 {
		h.GitHub = &endpoint{name: EndpointGitHub, opts: opts, handle: github{opts}.handle}
	}
	if len(opts.GenericToken) > 0 {
		h.Generic = &endpoint{name: EndpointGeneric, opts: opts, handle: generic{opts}.handle}
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

// endpoint does what both endpoints share: method, body limit, answer,
// observation and the log line; handle judges the request.
type endpoint struct {
	name   string
	opts   Options
	handle func(r *http.Request, body []byte) outcome
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := e.serve(w, r)
	e.opts.Observe(e.name, out.result)

	level := slog.LevelDebug
	switch out.result {
	case ResultTriggered:
		level = slog.LevelInfo
	case ResultUnauthorized, ResultBadRequest, ResultTooLarge:
		level = slog.LevelWarn
	}
	attrs := append([]any{"endpoint", e.name, "result", out.result, "remote", r.RemoteAddr}, out.attrs...)
	e.opts.Logger.Log(r.Context(), level, "webhook: "+out.message, attrs...)

	if out.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(out.status)
	_ = json.NewEncoder(w).Encode(struct {
		Result  string `json:"result"`
		Message string `json:"message"`
	}{out.result, out.message})
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) outcome {
	if r.Method != http.MethodPost {
		return outcome{http.StatusMethodNotAllowed, ResultMethodNotAllowed, "only POST is served", nil}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return outcome{http.StatusRequestEntityTooLarge, ResultTooLarge, "body over the size limit", []any{"limit", tooLarge.Limit}}
	}
	if err != nil {
		return outcome{http.StatusBadRequest, ResultBadRequest, "body could not be read", []any{"reason", err.Error()}}
	}
	return e.handle(r, body)
}
