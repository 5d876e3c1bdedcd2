// Package cli_test runs the meshops binary, built from this checkout, as a
// user or a cluster would: against the full local control plane (real
// kube-apiserver, controllers, kwok, istiod revisions) and a real git
// server, with real signals.
package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/kubetest"
)

var (
	env        *e2e.Env
	meshopsBin string
)

func TestMain(m *testing.M) {
	bin, removeBin, err := binaries.BuildMeshops()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		removeBin()
		os.Exit(1)
	}
	meshopsBin = bin
	// e2e.Start, not e2e.Main: Main exits, and the binary's folder must
	// go after the run.
	e, stop, err := e2e.Start(controlplane.Options{PodStartDelay: 300 * time.Millisecond})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		removeBin()
		os.Exit(1)
	}
	env = e
	code := m.Run()
	stop()
	removeBin()
	os.Exit(code)
}

// syncBuffer is an output buffer the process and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running meshops process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	addr string
	done chan error
}

// meshops runs the binary to completion and returns its exit code and
// output.
func meshops(t *testing.T, kubeconfig string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(meshopsBin, append(args, "--kubeconfig", kubeconfig)...)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// startRun starts `meshops run` serving on a free address.
func startRun(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, out: &syncBuffer{}, addr: kubetest.FreeAddr(t), done: make(chan error, 1)}
	p.cmd = exec.Command(meshopsBin, append([]string{"run", "--kubeconfig", env.Cluster.Kubeconfig, "--listen", p.addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("meshops run output:\n%s", p.out.String())
		}
	})
	p.waitReady()
	return p
}

func (p *proc) waitReady() {
	p.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	p.t.Fatalf("meshops run never became ready:\n%s", p.out.String())
}

// reconciles sums meshops_reconcile_total over results, and per result.
func (p *proc) reconciles() (int, map[string]int) {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return -1, nil
	}
	defer resp.Body.Close()
	by := map[string]int{}
	total := 0
	re := regexp.MustCompile(`^meshops_reconcile_total\{result="([a-z]+)"\} (\d+)`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[2])
			by[m[1]] += n
			total += n
		}
	}
	return total, by
}

// waitReconciles waits until the process has finished at least n
// reconciles and returns the count per result.
func (p *proc) waitReconciles(n int, timeout time.Duration) map[string]int {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		total, by := p.reconciles()
		if total >= n {
			return by
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%d reconciles after %s, want %d:\n%s", total, timeout, n, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("meshops run after SIGTERM: %v\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("meshops run did not stop within 30 s of SIGTERM:\n%s", p.out.String())
	}
}

// githubPush posts a push event for main, signed with secret.
func githubPush(t *testing.T, addr string, secret []byte, commit string) int {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q}`, commit))
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/github", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func uniqueTag(t *testing.T) string {
	t.Helper()
	tag := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), ""))
	if len(tag) > 30 {
		tag = tag[len(tag)-30:]
	}
	tag = "t" + tag
	t.Cleanup(func() {
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(),
			mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	})
	return tag
}

func tagRevision(t *testing.T, tag string) string {
	t.Helper()
	return env.TagRevision(context.Background(), tag)
}

// waitOnRevision waits until every pod of the Deployment runs rev.
func waitOnRevision(t *testing.T, ns, name, rev string) {
	t.Helper()
	var last []e2e.Sidecar
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		sidecars, err := env.Sidecars(context.Background(), ns, map[string]string{"app": name})
		if err != nil {
			t.Fatal(err)
		}
		last = sidecars
		ok := len(sidecars) > 0
		for _, s := range sidecars {
			ok = ok && s.Revision == rev
		}
		if ok {
			return
		}
	}
	t.Fatalf("%s/%s never all on %s: %+v", ns, name, rev, last)
}
