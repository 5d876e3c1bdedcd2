package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/test/kubetest"
)

// meshops run serves /healthz, /readyz, /metrics and the generic push
// webhook; an authenticated push is counted and triggers a reconcile,
// a wrong token is refused; SIGTERM-style cancellation ends it cleanly.
func TestRunServesProbesMetricsAndTheWebhook(t *testing.T) {
	installExampleCluster(t)
	addr := kubetest.FreeAddr(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr bytes.Buffer
	go func() {
		root := newRootCommand()
		root.SetArgs([]string{"run", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "--listen", addr,
			"--schedule", "@every 1h", "--webhook-token-file", token, "--state-namespace", "meshops-run", "--report-only"})
		root.SetOut(io.Discard)
		root.SetErr(&stderr)
		if err := root.ExecuteContext(ctx); err != nil {
			done <- 1
			return
		}
		done <- 0
	}()
	base := "http://" + addr
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready; stderr:\n%s", stderr.String())
		}
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	// The status page at / (status's own tests parse it).
	if code, page := get("/"); code != http.StatusOK || !strings.Contains(page, "<html") || !strings.Contains(page, "istiod") {
		t.Errorf("/ = %d, want the status page:\n%.300s", code, page)
	}
	post := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/hooks/generic", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A push during the start-up reconcile would coalesce into it (by
	// design); wait for that one to end so the push makes its own run.
	waitMetric(t, get, `meshops_reconcile_total{result="noop"} 1`, &stderr)
	if code := post("s3cret"); code != http.StatusAccepted {
		t.Errorf("push with the token: %d, want 202", code)
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Errorf("push with a wrong token: %d, want 401", code)
	}
	waitMetric(t, get, `meshops_webhook_requests_total{endpoint="generic",result="triggered"} 1`, &stderr)
	waitMetric(t, get, `meshops_webhook_requests_total{endpoint="generic",result="unauthorized"} 1`, &stderr)
	waitMetric(t, get, `meshops_reconcile_total{result="noop"} 2`, &stderr)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exited %d after cancellation; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after cancellation")
	}
}

func waitMetric(t *testing.T, get func(string) (int, string), line string, stderr *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, metrics := get("/metrics")
		if strings.Contains(metrics, line) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %s:\n%s\nstderr:\n%s", line, metrics, stderr.String())
		}
	}
}
