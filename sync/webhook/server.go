package webhook

import (
	"net/http"
	"time"
)

// ServerOptions bound what any client, with or without credentials, can
// hold of the HTTP server that serves the webhooks, /healthz and /metrics:
// a connection that sends slowly, or not at all, is closed.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (the GitHub
	// endpoint sets its own, shorter, deadline for the body:
	// Options.BodyReadTimeout). Default 15s.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer; /metrics is the longest answer, a few KiB.
	// Default 30s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next
	// request. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers. Default 64 KiB
	// (GitHub's headers take about 1 KiB; Go's own default is 1 MiB).
	MaxHeaderBytes int
}

// Defaults of ServerOptions.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// DefaultServerOptions returns the server options with every default.
func DefaultServerOptions() ServerOptions {
	return ServerOptions{
		ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes,
	}
}

// Server returns an http.Server for h with these bounds; zero fields take
// their defaults.
func (o ServerOptions) Server(h http.Handler) *http.Server {
	d := DefaultServerOptions()
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: pick(o.ReadHeaderTimeout, d.ReadHeaderTimeout),
		ReadTimeout:       pick(o.ReadTimeout, d.ReadTimeout),
		WriteTimeout:      pick(o.WriteTimeout, d.WriteTimeout),
		IdleTimeout:       pick(o.IdleTimeout, d.IdleTimeout),
		MaxHeaderBytes:    o.MaxHeaderBytes,
	}
}
