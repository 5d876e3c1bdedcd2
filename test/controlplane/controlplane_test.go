package controlplane

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestUpServesAuthenticatedAPIAndDownLeavesNoProcessOrPortBehind(t *testing.T) {
	ctx := context.Background()
	c, cs := start(t, Options{})
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.") || strings.Contains(v.GitVersion, "master") {
		t.Errorf("server version %q: the binary must be linked with its real version", v.GitVersion)
	}
	// RBAC is on: an identity with no bindings is refused.
	anon := *c.Config
	anon.TLSClientConfig.CertData, anon.TLSClientConfig.KeyData = nil, nil
	anonCS, err := kubernetes.NewForConfig(&anon)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anonCS.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("an unauthenticated client could list namespaces; RBAC must refuse it")
	}

	assertDownLeavesNothing(t, c, []string{"etcd", "kube-apiserver"})
}

// The full set (controllers, scheduler, kwok, one istiod per revision) is
// stopped as completely as the API server alone.
func TestFullUpStartsEveryComponentAndDownStopsThemAll(t *testing.T) {
	dir := t.TempDir()
	c, err := Up(context.Background(), Options{StateDir: dir, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Down(dir, nil) })
	if len(c.Istiods) != 2 || c.Istiods["asm-1-28"] == nil || c.Istiods["asm-1-29"] == nil {
		t.Fatalf("istiods = %v, want asm-1-28 and asm-1-29", c.Istiods)
	}
	assertDownLeavesNothing(t, c, []string{"etcd", "kube-apiserver", "kube-controller-manager",
		"kube-scheduler", "kwok", "istiod-asm-1-28", "istiod-asm-1-29"})
}

// start brings up a control plane with opts in a folder of the test's own,
// stopped when the test ends, and returns it with a client.
func start(t *testing.T, opts Options) (*Cluster, kubernetes.Interface) {
	t.Helper()
	opts.StateDir = t.TempDir()
	c, err := Up(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Down(opts.StateDir, nil) })
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

func assertDownLeavesNothing(t *testing.T, c *Cluster, names []string) {
	t.Helper()
	var pids []int
	for _, name := range names {
		data, err := os.ReadFile(pidFile(c.StateDir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pid, _ := strconv.Atoi(string(data))
		if !alive(pid) {
			t.Errorf("%s (pid %d) is not running before Down", name, pid)
		}
		pids = append(pids, pid)
	}
	if err := Down(c.StateDir, nil); err != nil {
		t.Fatal(err)
	}
	for i, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after Down", names[i], pid)
		}
	}
	for name, endpoint := range c.Endpoints {
		host := strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://")
		if !strings.Contains(host, ":") {
			continue
		}
		if conn, err := net.Dial("tcp", host); err == nil {
			conn.Close()
			t.Errorf("%s still listens on %s after Down", name, host)
		}
	}
	if _, err := os.Stat(fmt.Sprintf("%s/etcd", c.StateDir)); !os.IsNotExist(err) {
		t.Errorf("etcd data left behind after Down: %v", err)
	}
}

func TestUpAfterACrashCleansUpTheLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Up(ctx, Options{StateDir: dir}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Down(dir, nil) })
	data, err := os.ReadFile(pidFile(dir, "kube-apiserver"))
	if err != nil {
		t.Fatal(err)
	}
	oldPID, _ := strconv.Atoi(string(data))
	// A second Up on the same folder, as after a crash of the command that
	// ran the first, must not leave the first cluster's processes running.
	c, err := Up(ctx, Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if alive(oldPID) {
		t.Errorf("the earlier kube-apiserver (pid %d) still runs after a second Up", oldPID)
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		t.Fatalf("second cluster does not answer: %v", err)
	}
}
