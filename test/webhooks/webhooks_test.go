// Package webhooks_test runs the meshops binary, built from this checkout,
// as `meshops run` against a real kube-apiserver, and attacks its HTTP
// server the way a caller without credentials can: floods of large
// bodies, clients that send slowly, replayed deliveries. It states what
// the process held and how soon slow clients were closed.
package webhooks_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meshops/meshops/sync/webhook"
	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/procstat"
	"github.com/meshops/meshops/test/simmesh"
)

var (
	env        *kubetest.Env
	meshopsBin string
)

func TestMain(m *testing.M) {
	bin, removeBin, err := binaries.BuildMeshops()
	var e *kubetest.Env
	if err == nil {
		e, err = kubetest.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		removeBin()
		os.Exit(1)
	}
	env, meshopsBin = e, bin
	code := m.Run()
	_ = e.Stop()
	removeBin()
	os.Exit(code)
}

const (
	exampleRepo   = "../../configs/examples/aro-hcp-dev"
	githubSecret  = "hook-secret"
	genericToken  = "hook-token"
	floodRequests = 1000
	floodBody     = 5 << 20
	// rssBound is what meshops run may hold at its peak (VmHWM) through
	// the flood, start-up reconcile included, and floodGrowth what the
	// flood may add to the peak before it. Measured on this project's
	// 2-core machine: 69-74 MiB before the flood, 92-99 MiB after (+19-24 MiB:
	// MaxInFlight GitHub bodies of at most 1 MiB are the most of it).
	// Before the webhook bounds the same flood took meshops from 43 MB to
	// 905 MB (issue #15).
	rssBound    = 128 << 20
	floodGrowth = 48 << 20
	// slack is added to every configured timeout before a slow client
	// counts as held too long: a shared machine may be slow.
	slack = 15 * time.Second
)

// run is a meshops run process.
type run struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  string
}

// startRun starts meshops run with both webhooks on, in report-only mode
// against a simulated mesh, and waits for its first reconcile.
func startRun(t *testing.T) *run {
	t.Helper()
	if err := simmesh.InstallExample(context.Background(), env.Client); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"secret": githubSecret, "token": genericToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := &run{t: t, addr: kubetest.FreeAddr(t), log: filepath.Join(dir, "run.log")}
	out, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	r.cmd = exec.Command(meshopsBin, "run", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo,
		"--listen", r.addr, "--schedule", "@every 1h", "--report-only", "--state-namespace", kubetest.UniqueName(t),
		"--webhook-secret-file", filepath.Join(dir, "secret"), "--webhook-token-file", filepath.Join(dir, "token"))
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			data, _ := os.ReadFile(r.log)
			t.Logf("meshops run output:\n%s", data)
		}
	})
	r.waitFor("the first reconcile", func() bool { n, _ := r.metric(reconciles); return n >= 1 })
	return r
}

// waitFor polls cond for up to a minute.
func (r *run) waitFor(what string, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("waited a minute for %s", what)
		}
	}
}

var (
	reconciles = regexp.MustCompile(`^meshops_reconcile_total\{result="[a-z ]+"\} (\d+)`)
	duplicates = regexp.MustCompile(`^meshops_webhook_requests_total\{endpoint="github",result="duplicate"\} (\d+)`)
)

// metric sums the samples of /metrics that re matches.
func (r *run) metric(re *regexp.Regexp) (int, error) {
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			total += n
		}
	}
	return total, sc.Err()
}

// peakRSS is the process's resident-set high-water mark.
func (r *run) peakRSS() int64 {
	r.t.Helper()
	_, m, err := procstat.ReadStatus(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		r.t.Fatal(err)
	}
	return m.Peak
}

// probeHealthz asks /healthz every 100 ms until stop is called, which
// returns the failures (no 200 within 5 s) and the number of probes.
func (r *run) probeHealthz() (stop func() (failures []string, probes int)) {
	client := &http.Client{Timeout: 5 * time.Second}
	done := make(chan struct{})
	var (
		wg     sync.WaitGroup
		failed []string
		n      int
	)
	wg.Go(func() {
		for {
			resp, err := client.Get("http://" + r.addr + "/healthz")
			n++
			switch {
			case err != nil:
				failed = append(failed, err.Error())
			default:
				if resp.StatusCode != http.StatusOK {
					failed = append(failed, resp.Status)
				}
				resp.Body.Close()
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return func() ([]string, int) {
		close(done)
		wg.Wait()
		return failed, n
	}
}

func signature(body []byte) string {
	mac := hmac.New(sha256.New, []byte(githubSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// onlyReader hides a reader's length, so the client sends it chunked.
type onlyReader struct{ io.Reader }

// A thousand unauthenticated 5 MiB POSTs, at most 32 at once, to both
// endpoints (no token; a well-formed but wrong signature with and without
// a declared length) trigger nothing, keep meshops run's peak resident
// set under rssBound, and /healthz answers throughout.
func TestUnauthenticatedFloodLeavesMemoryBoundedAndHealthzAnswering(t *testing.T) {
	r := startRun(t)
	before, err := r.metric(reconciles)
	if err != nil {
		t.Fatal(err)
	}
	idle := r.peakRSS()
	stopProbe := r.probeHealthz()

	zeros := make([]byte, floodBody)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		mu     sync.Mutex
		codes  = map[string]int{}
		next   atomic.Int64
		wg     sync.WaitGroup
		wrongs = "sha256=" + strings.Repeat("0f", sha256.Size)
	)
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1); i <= floodRequests && ctx.Err() == nil; i = next.Add(1) {
				var body io.Reader = bytes.NewReader(zeros)
				path, header := webhook.PathGeneric, map[string]string{}
				switch i % 3 {
				case 1:
					path, header = webhook.PathGitHub, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": wrongs}
				case 2:
					path, header = webhook.PathGitHub, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": wrongs}
					body = onlyReader{body}
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+path, body)
				if err != nil {
					t.Error(err)
					return
				}
				for k, v := range header {
					req.Header.Set(k, v)
				}
				key := "connection closed before an answer"
				if resp, err := client.Do(req); err == nil {
					key = fmt.Sprintf("%s %d", path, resp.StatusCode)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				codes[key]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("the flood did not end within 5 minutes: %v", codes)
	}
	peak := r.peakRSS()
	failures, probes := stopProbe()
	t.Logf("%d unauthenticated %d MiB POSTs in %s: %v; meshops run peak RSS %.1f MiB (idle %.1f MiB); /healthz %d probes, %d failed",
		floodRequests, floodBody>>20, elapsed.Round(time.Millisecond), codes, float64(peak)/(1<<20), float64(idle)/(1<<20), probes, len(failures))
	if peak > rssBound || peak-idle > floodGrowth {
		t.Errorf("peak RSS %.1f MiB (%.1f MiB before the flood), want under %d MiB and at most %d MiB more",
			float64(peak)/(1<<20), float64(idle)/(1<<20), rssBound>>20, floodGrowth>>20)
	}
	if len(failures) > 0 {
		t.Errorf("/healthz failed %d of %d times during the flood: %v", len(failures), probes, failures[:min(5, len(failures))])
	}
	for key := range codes {
		if strings.Contains(key, " 2") {
			t.Errorf("an unauthenticated request was accepted: %v", codes)
		}
	}
	if after, err := r.metric(reconciles); err != nil || after != before {
		t.Errorf("reconciles %d before the flood, %d after (%v), want no trigger", before, after, err)
	}
}

// slowClient opens a connection, sends head at once, then one byte of
// trickle a second, and reports how long the server kept it open.
func slowClient(addr, head, trickle string, limit time.Duration) (held time.Duration, answer string, err error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, "", err
	}
	closed := make(chan string, 1)
	go func() {
		// Whatever the server answers, read until it closes.
		data, _ := io.ReadAll(conn)
		line, _, _ := strings.Cut(string(data), "\r\n")
		closed <- line
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case answer = <-closed:
			return time.Since(start), answer, nil
		case <-tick.C:
			if time.Since(start) > limit {
				return time.Since(start), "", fmt.Errorf("still open after %s", limit)
			}
			_, _ = io.WriteString(conn, string(trickle[i%len(trickle)]))
		}
	}
}

// Clients that send their headers or their body slowly are closed within
// the server's timeouts (plus slack), 100 of each kind at once, while
// /healthz answers: slow headers by ReadHeaderTimeout; slow GitHub bodies
// with 408 once BodyReadTimeout has passed, for the MaxInFlight of them
// that got in (the others get 503 at once); slow bodies to the generic
// endpoint, which reads none, with 401 at once.
func TestSlowClientsAreClosedWithinTheTimeouts(t *testing.T) {
	r := startRun(t)
	srv, hooks := webhook.DefaultServerOptions(), webhook.DefaultOptions()
	sig := signature([]byte("never sent"))
	stopProbe := r.probeHealthz()
	for _, kind := range []struct {
		name, head, trickle string
		within              time.Duration
		answers             []string
	}{
		{"slow headers", "POST " + webhook.PathGeneric + " HTTP/1.1\r\nHost: meshops\r\n", "X-Slow: 1\r\n", srv.ReadHeaderTimeout,
			[]string{"400 Bad Request"}},
		{"slow GitHub body", "POST " + webhook.PathGitHub + " HTTP/1.1\r\nHost: meshops\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: " + sig +
			"\r\nContent-Length: 4096\r\n\r\n", "{", hooks.BodyReadTimeout, []string{"408 Request Timeout", "503 Service Unavailable"}},
		{"slow generic body", "POST " + webhook.PathGeneric + " HTTP/1.1\r\nHost: meshops\r\nContent-Length: 5242880\r\n\r\n", "x", 0,
			[]string{"401 Unauthorized", "503 Service Unavailable"}},
	} {
		var (
			mu      sync.Mutex
			longest time.Duration
			answers = map[string]int{}
			wg      sync.WaitGroup
		)
		for range 100 {
			wg.Go(func() {
				held, answer, err := slowClient(r.addr, kind.head, kind.trickle, kind.within+slack)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("%s: %v", kind.name, err)
					return
				}
				longest = max(longest, held)
				answers[strings.TrimPrefix(answer, "HTTP/1.1 ")]++
			})
		}
		wg.Wait()
		t.Logf("%s: 100 clients, all closed within %s (timeout %s): %v", kind.name, longest.Round(100*time.Millisecond), kind.within, answers)
		for answer := range answers {
			if !slices.Contains(kind.answers, answer) {
				t.Errorf("%s answered %q, want one of %q: %v", kind.name, answer, kind.answers, answers)
			}
		}
		if kind.name == "slow GitHub body" {
			if n := answers["408 Request Timeout"]; n < 1 || n > hooks.MaxInFlight {
				t.Errorf("%d slow GitHub bodies answered 408, want 1 to MaxInFlight (%d): %v", n, hooks.MaxInFlight, answers)
			}
		}
	}
	if failures, probes := stopProbe(); len(failures) > 0 {
		t.Errorf("/healthz failed %d of %d times while slow clients were connected: %v", len(failures), probes, failures[:min(5, len(failures))])
	}
}

// A signed push triggers one reconcile; the same delivery again, and its
// body under a new delivery id, are answered 202 "duplicate" and trigger
// nothing.
func TestReplayedSignedDeliveryDoesNotTriggerASecondReconcile(t *testing.T) {
	r := startRun(t)
	before, err := r.metric(reconciles)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"ref":"refs/heads/main","after":"4b825dc642cb6eb9a060e54bf8d69288fbee4904"}`)
	push := func(delivery string) string {
		req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+webhook.PathGitHub, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", signature(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer))
	}
	if got := push("d-1"); !strings.HasPrefix(got, `202 {"result":"triggered"`) {
		t.Fatalf("first delivery: %s", got)
	}
	r.waitFor("the reconcile of the push", func() bool { n, _ := r.metric(reconciles); return n == before+1 })
	for _, delivery := range []string{"d-1", "d-2"} {
		if got := push(delivery); !strings.HasPrefix(got, `202 {"result":"duplicate"`) {
			t.Errorf("replay as %s: %s, want 202 duplicate", delivery, got)
		}
	}
	if n, err := r.metric(duplicates); err != nil || n != 2 {
		t.Errorf("duplicates counted: %d (%v), want 2", n, err)
	}
	// A trigger starts a reconcile at once; give one the time to show.
	time.Sleep(2 * time.Second)
	if n, err := r.metric(reconciles); err != nil || n != before+1 {
		t.Errorf("reconciles: %d (%v), want %d: a replay triggered", n, err, before+1)
	}
}
