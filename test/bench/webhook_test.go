package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/sync/webhook"
)

// webhookSamples pushes are timed.
const webhookSamples = 20

// benchWebhookToReconcile times a signed GitHub push delivery, from the
// HTTP POST to meshops' webhook endpoint (sync/webhook, as `meshops run`
// registers it) to the start of the reconcile the loop runs for it.
func benchWebhookToReconcile(b *testing.B) {
	started := make(chan time.Time, 1)
	schedule, err := reconcile.ParseSchedule("@every 1h")
	if err != nil {
		b.Fatal(err)
	}
	loop := reconcile.New(func(ctx context.Context, reason string) error {
		started <- time.Now()
		return nil
	}, schedule)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-started // the start-up reconcile

	secret := []byte("bench-webhook-secret")
	hooks, err := webhook.New(webhook.Options{GitHubSecret: secret, Trigger: loop.Trigger, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	hooks.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Each push is a new delivery, as GitHub sends them: the endpoint
	// answers a replayed one without triggering.
	pushes := 0
	push := func() time.Duration {
		pushes++
		req, err := githubPush(srv.URL, secret, pushes)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("push answered %s, want 202 Accepted", resp.Status)
		}
		return (<-started).Sub(start)
	}
	push() // warm the connection
	times := make([]time.Duration, 0, webhookSamples)
	for b.Loop() {
		for range webhookSamples {
			times = append(times, push())
		}
	}
	slices.Sort(times)
	results.setWebhook(latencyResult{Samples: len(times), Median: times[len(times)/2], Max: times[len(times)-1],
		Handler: "signed GitHub push to sync/webhook's endpoint over HTTP; the reconcile is a no-op"})
}

// githubPush is the n-th push delivery as GitHub sends it: signed, with a
// new commit and its own delivery id (the endpoint remembers ids, and an
// empty one is an id too).
func githubPush(baseURL string, secret []byte, n int) (*http.Request, error) {
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":"%040x","deleted":false}`, n))
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, baseURL+webhook.PathGitHub, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("00000000-0000-4000-8000-%012d", n))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return req, nil
}

// The endpoint answers a delivery it has seen (by its id) without
// triggering; the bench's pushes must each trigger, or it waits forever
// for a reconcile that never starts.
func TestEveryBenchPushTriggersAReconcile(t *testing.T) {
	secret := []byte("bench-webhook-secret")
	triggered := 0
	hooks, err := webhook.New(webhook.Options{GitHubSecret: secret, Trigger: func(string) { triggered++ }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	hooks.Register(mux)
	for n := 1; n <= 3; n++ {
		req, err := githubPush("http://127.0.0.1", secret, n)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("push %d answered %d, want 202", n, rec.Code)
		}
	}
	if triggered != 3 {
		t.Errorf("3 pushes triggered %d reconciles, want 3", triggered)
	}
}
