package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// github judges GitHub's webhook deliveries.
type github struct {
	opts    Options
	replays *replays
}

// pushEvent is the part of GitHub's push payload meshops reads.
type pushEvent struct {
	Ref     string `json:"ref"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
}

// handle authenticates first: a request without a well-formed signature
// is refused before its body is read; the body (needed for the HMAC) is
// read only up to MaxBodyBytes and within BodyReadTimeout.
func (g github) handle(w http.ResponseWriter, r *http.Request) outcome {
	event := r.Header.Get("X-GitHub-Event")
	delivery := r.Header.Get("X-GitHub-Delivery")
	attrs := []any{"event", event, "delivery", delivery}
	sum, ok := parseSignature(r.Header.Get("X-Hub-Signature-256"))
	if !ok {
		return outcome{http.StatusUnauthorized, ResultUnauthorized, "X-Hub-Signature-256 missing or wrong", attrs}
	}
	body, failed := g.readBody(w, r)
	if failed != nil {
		failed.attrs = append(attrs, failed.attrs...)
		return *failed
	}
	if !validSignature(g.opts.GitHubSecret, body, sum) {
		return outcome{http.StatusUnauthorized, ResultUnauthorized, "X-Hub-Signature-256 missing or wrong", attrs}
	}
	switch event {
	case "":
		return outcome{http.StatusBadRequest, ResultBadRequest, "X-GitHub-Event missing", attrs}
	case "ping":
		return outcome{http.StatusOK, ResultPing, "pong", attrs}
	case "push":
	default:
		return outcome{http.StatusAccepted, ResultIgnored, fmt.Sprintf("%s events are ignored; only push triggers", event), attrs}
	}

	var push pushEvent
	if err := json.Unmarshal(payload(r, body), &push); err != nil {
		return outcome{http.StatusBadRequest, ResultBadRequest, "push payload is not JSON", append(attrs, "reason", err.Error())}
	}
	attrs = append(attrs, "ref", push.Ref, "commit", push.After)
	want := "refs/heads/" + g.opts.Branch
	switch {
	case push.Ref != want:
		return outcome{http.StatusAccepted, ResultIgnored, fmt.Sprintf("push to %s ignored; tracking %s", push.Ref, want), attrs}
	case push.Deleted:
		return outcome{http.StatusAccepted, ResultIgnored, fmt.Sprintf("push deleting %s ignored", want), attrs}
	}
	// Only now, signed and about to trigger, is the delivery remembered:
	// by its id, and by its signature since the id is not signed.
	if g.replays.check("id:"+delivery, "sum:"+hex.EncodeToString(sum)) {
		return outcome{http.StatusAccepted, ResultDuplicate, "delivery already accepted; not triggered again", attrs}
	}
	g.opts.Trigger(fmt.Sprintf("github push %s to %s", short(push.After), push.Ref))
	return outcome{http.StatusAccepted, ResultTriggered, fmt.Sprintf("push %s to %s triggers a reconcile", short(push.After), push.Ref), attrs}
}

// parseSignature reads X-Hub-Signature-256 ("sha256=<64 hex>"); a header
// of any other form cannot match, so the body need not be read.
func parseSignature(header string) ([]byte, bool) {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSum) != 2*sha256.Size {
		return nil, false
	}
	sum, err := hex.DecodeString(hexSum)
	return sum, err == nil
}

// validSignature checks sum against the HMAC-SHA256 of the raw body, in
// constant time.
func validSignature(secret, body, sum []byte) bool {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(sum, mac.Sum(nil))
}

// readBody reads the body up to MaxBodyBytes (a larger declared length is
// refused unread) before the BodyReadTimeout deadline; on failure it
// returns the answer.
func (g github) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *outcome) {
	limit := g.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, &outcome{http.StatusRequestEntityTooLarge, ResultTooLarge, "body over the size limit", []any{"limit", limit}}
	}
	// ErrNotSupported only where there is no connection (tests that call
	// ServeHTTP directly); the server's ReadTimeout still holds then.
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.opts.BodyReadTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, &outcome{http.StatusInternalServerError, ResultBadRequest, "body could not be read", []any{"reason", err.Error()}}
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 512), limit)+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &outcome{http.StatusRequestEntityTooLarge, ResultTooLarge, "body over the size limit", []any{"limit", limit}}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &outcome{http.StatusRequestTimeout, ResultTimeout, "body not received in time", []any{"limit", g.opts.BodyReadTimeout.String()}}
	case err != nil:
		return nil, &outcome{http.StatusBadRequest, ResultBadRequest, "body could not be read", []any{"reason", err.Error()}}
	}
	return buf.Bytes(), nil
}

// payload is the JSON of a delivery: the body, or its payload field when
// the webhook is set to send application/x-www-form-urlencoded.
func payload(r *http.Request, body []byte) []byte {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		if form, err := url.ParseQuery(string(body)); err == nil {
			return []byte(form.Get("payload"))
		}
	}
	return body
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
