package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var (
	secret = []byte("gh-secret")
	token  = []byte("generic-token")
)

// recorder counts what the handlers hand to Trigger and Observe.
type recorder struct {
	triggers []string
	observed []string
}

func newHandlers(t *testing.T, rec *recorder, maxBody int64) *Handlers {
	t.Helper()
	h, err := New(Options{
		Branch:       "main",
		GitHubSecret: secret,
		GenericToken: token,
		Trigger:      func(reason string) { rec.triggers = append(rec.triggers, reason) },
		Observe:      func(endpoint, result string) { rec.observed = append(rec.observed, endpoint+"/"+result) },
		MaxBodyBytes: maxBody,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func pushBody(ref string, deleted bool) []byte {
	b, _ := json.Marshal(map[string]any{"ref": ref, "after": "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d", "deleted": deleted, "repository": map[string]any{"full_name": "org/config"}})
	return b
}

func githubRequest(method, event string, body []byte, signature string) *http.Request {
	r := httptest.NewRequest(method, PathGitHub, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if event != "" {
		r.Header.Set("X-GitHub-Event", event)
	}
	if signature != "" {
		r.Header.Set("X-Hub-Signature-256", signature)
	}
	r.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	return r
}

func TestGitHubEndpointTriggersOnlyOnSignedPushesToTheBranch(t *testing.T) {
	push := pushBody("refs/heads/main", false)
	tampered := bytes.Replace(push, []byte("refs/heads/main"), []byte("refs/heads/evil"), 1)
	form := []byte("payload=" + url.QueryEscape(string(push)))
	big := append(pushBody("refs/heads/main", false), bytes.Repeat([]byte(" "), 2048)...)

	for _, tc := range []struct {
		name      string
		req       *http.Request
		status    int
		result    string
		triggered bool
	}{
		{"push to the tracked branch", githubRequest("POST", "push", push, sign(secret, push)), 202, ResultTriggered, true},
		{"push sent as a form", func() *http.Request {
			r := githubRequest("POST", "push", form, sign(secret, form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), 202, ResultTriggered, true},
		{"ping", githubRequest("POST", "ping", []byte(`{"zen":"Keep it simple."}`), sign(secret, []byte(`{"zen":"Keep it simple."}`))), 200, ResultPing, false},
		{"push to another branch", githubRequest("POST", "push", pushBody("refs/heads/dev", false), sign(secret, pushBody("refs/heads/dev", false))), 202, ResultIgnored, false},
		{"push of a tag", githubRequest("POST", "push", pushBody("refs/tags/main", false), sign(secret, pushBody("refs/tags/main", false))), 202, ResultIgnored, false},
		{"tracked branch deleted", githubRequest("POST", "push", pushBody("refs/heads/main", true), sign(secret, pushBody("refs/heads/main", true))), 202, ResultIgnored, false},
		{"another event", githubRequest("POST", "issues", []byte(`{}`), sign(secret, []byte(`{}`))), 202, ResultIgnored, false},
		{"no signature", githubRequest("POST", "push", push, ""), 401, ResultUnauthorized, false},
		{"signed with another secret", githubRequest("POST", "push", push, sign([]byte("guess"), push)), 401, ResultUnauthorized, false},
		{"body tampered after signing", githubRequest("POST", "push", tampered, sign(secret, push)), 401, ResultUnauthorized, false},
		{"sha1 signature only", githubRequest("POST", "push", push, "sha1="+strings.TrimPrefix(sign(secret, push), "sha256=")), 401, ResultUnauthorized, false},
		{"signature not hex", githubRequest("POST", "push", push, "sha256=zz"), 401, ResultUnauthorized, false},
		{"unsigned ping", githubRequest("POST", "ping", []byte(`{}`), ""), 401, ResultUnauthorized, false},
		{"no event header", githubRequest("POST", "", push, sign(secret, push)), 400, ResultBadRequest, false},
		{"push payload not JSON", githubRequest("POST", "push", []byte("not json"), sign(secret, []byte("not json"))), 400, ResultBadRequest, false},
		{"GET", githubRequest("GET", "push", nil, ""), 405, ResultMethodNotAllowed, false},
		{"body over the limit", githubRequest("POST", "push", big, sign(secret, big)), 413, ResultTooLarge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			w := httptest.NewRecorder()
			newHandlers(t, rec, 1024).GitHub.ServeHTTP(w, tc.req)

			if w.Code != tc.status {
				t.Errorf("status = %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if want := []string{"github/" + tc.result}; !slices.Equal(rec.observed, want) {
				t.Errorf("observed %v, want %v", rec.observed, want)
			}
			wantTriggers := 0
			if tc.triggered {
				wantTriggers = 1
			}
			if len(rec.triggers) != wantTriggers {
				t.Fatalf("triggers = %v, want %d", rec.triggers, wantTriggers)
			}
			if tc.triggered && rec.triggers[0] != "github push 1a2b3c4d5e6f to refs/heads/main" {
				t.Errorf("trigger reason = %q", rec.triggers[0])
			}
			var answer struct{ Result string }
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.Result != tc.result {
				t.Errorf("body = %s, want JSON with result %s", w.Body, tc.result)
			}
			if tc.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", w.Header().Get("Allow"))
			}
		})
	}
}

func TestGenericEndpointTriggersOnTheBearerTokenOnly(t *testing.T) {
	for _, tc := range []struct {
		name, method, auth string
		body               []byte
		status             int
		result             string
	}{
		{"right token", "POST", "Bearer generic-token", []byte(`{"any":"payload"}`), 202, ResultTriggered},
		{"scheme in lower case", "POST", "bearer generic-token", nil, 202, ResultTriggered},
		{"wrong token", "POST", "Bearer generic-tokem", nil, 401, ResultUnauthorized},
		{"token prefix", "POST", "Bearer generic", nil, 401, ResultUnauthorized},
		{"no header", "POST", "", nil, 401, ResultUnauthorized},
		{"empty token", "POST", "Bearer ", nil, 401, ResultUnauthorized},
		{"basic auth", "POST", "Basic Z2VuZXJpYy10b2tlbg==", nil, 401, ResultUnauthorized},
		{"GitHub's secret as token", "POST", "Bearer gh-secret", nil, 401, ResultUnauthorized},
		{"GET", "GET", "Bearer generic-token", nil, 405, ResultMethodNotAllowed},
		{"body over the GitHub limit is not read", "POST", "Bearer generic-token", bytes.Repeat([]byte("x"), 1025), 202, ResultTriggered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := httptest.NewRequest(tc.method, PathGeneric, bytes.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			newHandlers(t, rec, 1024).Generic.ServeHTTP(w, r)

			if w.Code != tc.status {
				t.Errorf("status = %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if want := []string{"generic/" + tc.result}; !slices.Equal(rec.observed, want) {
				t.Errorf("observed %v, want %v", rec.observed, want)
			}
			if triggered := len(rec.triggers) == 1; triggered != (tc.result == ResultTriggered) || len(rec.triggers) > 1 {
				t.Errorf("triggers = %v", rec.triggers)
			}
		})
	}
}

func TestRegisterServesBothEndpointsOverHTTP(t *testing.T) {
	rec := &recorder{}
	mux := http.NewServeMux()
	newHandlers(t, rec, 0).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	push := pushBody("refs/heads/main", false)
	req, _ := http.NewRequest("POST", srv.URL+PathGitHub, bytes.NewReader(push))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", sign(secret, push))
	gen, _ := http.NewRequest("POST", srv.URL+PathGeneric, nil)
	gen.Header.Set("Authorization", "Bearer generic-token")
	get, _ := http.NewRequest("GET", srv.URL+PathGeneric, nil)
	for _, r := range []*http.Request{req, gen, get} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if want := []string{"github/triggered", "generic/triggered", "generic/method_not_allowed"}; !slices.Equal(rec.observed, want) {
		t.Errorf("observed %v, want %v", rec.observed, want)
	}
	if len(rec.triggers) != 2 {
		t.Errorf("triggers = %v, want 2", rec.triggers)
	}
}

func TestEndpointsExistOnlyWithTheirSecret(t *testing.T) {
	trigger := func(string) {}
	onlyGitHub, err := New(Options{GitHubSecret: secret, Trigger: trigger})
	if err != nil || onlyGitHub.GitHub == nil || onlyGitHub.Generic != nil {
		t.Errorf("New with GitHubSecret only = %+v, %v; want the GitHub endpoint only", onlyGitHub, err)
	}
	onlyGeneric, err := New(Options{GenericToken: token, Trigger: trigger})
	if err != nil || onlyGeneric.GitHub != nil || onlyGeneric.Generic == nil {
		t.Errorf("New with GenericToken only = %+v, %v; want the generic endpoint only", onlyGeneric, err)
	}
	if _, err := New(Options{Trigger: trigger}); err == nil {
		t.Error("New without any secret succeeded")
	}
	if _, err := New(Options{GitHubSecret: secret}); err == nil {
		t.Error("New without Trigger succeeded")
	}
	mux := http.NewServeMux()
	onlyGeneric.Register(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, githubRequest("POST", "push", nil, ""))
	if w.Code != http.StatusNotFound {
		t.Errorf("GitHub endpoint without a secret answered %d, want 404", w.Code)
	}
}

func TestSecretFromFileDropsTheTrailingLineBreak(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := SecretFromFile(path); err != nil || string(got) != "s3cret" {
		t.Errorf("SecretFromFile = %q, %v", got, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SecretFromFile(empty); err == nil {
		t.Error("SecretFromFile of an empty file succeeded")
	}
	if _, err := SecretFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("SecretFromFile of a missing file succeeded")
	}
}
