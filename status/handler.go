package status

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/meshops/meshops/redact"
)

// Handler serves the status page at GET / (and HEAD): each request builds
// a fresh report from source. Other methods get 405; when source fails the
// page says so with a 503 in plain text, the error put through the one
// masking rule first.
func Handler(source func(context.Context) (Report, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the status page is read-only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		rep, err := source(r.Context())
		if err != nil {
			w.Header().Set("Retry-After", fmt.Sprint(RefreshSeconds))
			http.Error(w, "status unavailable: "+redact.Text(err.Error()), http.StatusServiceUnavailable)
			return
		}
		var buf bytes.Buffer
		if err := RenderHTML(&buf, rep); err != nil {
			http.Error(w, "status unavailable: rendering failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_, _ = w.Write(buf.Bytes())
	})
}
