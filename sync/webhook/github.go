package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// github judges GitHub's webhook deliveries.
type github struct{ opts Options }

// pushEvent is the part of GitHub's push payload meshops reads.
type pushEvent struct {
	Ref     string `json:"ref"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
}

func (g github) handle(r *http.Request, body []byte) outcome {
	event := r.Header.Get("X-GitHub-Event")
	attrs := []any{"event", event, "delivery", r.Header.Get("X-GitHub-Delivery")}
	if !validSignature(g.opts.GitHubSecret, body, r.Header.Get("X-Hub-Signature-256")) {
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
	g.opts.Trigger(fmt.Sprintf("github push %s to %s", short(push.After), push.Ref))
	return outcome{http.StatusAccepted, ResultTriggered, fmt.Sprintf("push %s to %s triggers a reconcile", short(push.After), push.Ref), attrs}
}

// validSignature checks header ("sha256=<hex>") against the HMAC-SHA256 of
// the raw body, in constant time.
func validSignature(secret, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
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
