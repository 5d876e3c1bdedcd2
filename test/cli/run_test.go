package cli_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/gitrepo"
)

// The GitOps loop as deployed: `meshops run` follows a branch on a real git
// server (basic auth), and a signed GitHub push of a commit that moves
// targetVersion rolls the mesh forward; a wrongly signed push gets 401 and
// triggers nothing; a burst of ten pushes makes at most two reconciles;
// SIGTERM stops it cleanly.
func TestRunRollsOutAPushedCommitOnASignedWebhook(t *testing.T) {
	ns := env.Namespace(t, nil)
	stateNS := env.Namespace(t, nil)
	tag := uniqueTag(t)
	repo := gitrepo.New(t)
	repo.Write(e2e.RepoFiles(tag, "asm-1-28", []string{ns}))
	repo.Commit("install on asm-1-28")
	served := gitrepo.Serve(t, "meshops", "s3cret-pw")
	repo.Push(served)

	secrets := t.TempDir()
	e2e.WriteFiles(t, secrets, map[string]string{"git/username": "meshops\n", "git/password": "s3cret-pw\n", "webhook": "hook-secret\n"})
	p := startRun(t, "--repo", served.URL, "--allow-insecure-http", "--git-secret-dir", filepath.Join(secrets, "git"),
		"--git-cache-dir", t.TempDir(), "--webhook-secret-file", filepath.Join(secrets, "webhook"),
		"--schedule", "@every 1h", "--state-namespace", stateNS)

	if by := p.waitReconciles(1, time.Minute); by["succeeded"] != 1 {
		t.Fatalf("first reconcile: %v, want succeeded (fresh install)", by)
	}
	if got := tagRevision(t, tag); got != "asm-1-28" {
		t.Fatalf("tag on %q after the first reconcile, want asm-1-28", got)
	}
	env.CreateDeployment(t, ns, "frontend", e2e.DeploymentOptions{Replicas: 2})
	waitOnRevision(t, ns, "frontend", "asm-1-28")

	repo.Write(e2e.RepoFiles(tag, "asm-1-29", []string{ns}))
	commit := repo.Commit("upgrade to asm-1-29")
	repo.Push(served)

	if code := githubPush(t, p.addr, []byte("wrong-secret"), commit); code != http.StatusUnauthorized {
		t.Errorf("push signed with a wrong secret: %d, want 401", code)
	}
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for range 10 {
		wg.Go(func() { codes <- githubPush(t, p.addr, []byte("hook-secret"), commit) })
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusAccepted {
			t.Errorf("signed push answered %d, want 202", code)
		}
	}

	p.waitReconciles(2, 2*time.Minute)
	// Let any coalesced follow-up finish before counting.
	time.Sleep(2 * time.Second)
	total, by := p.reconciles()
	if total > 3 {
		t.Errorf("%d reconciles (%v) for a start and ten pushes in a burst, want at most 3 (start, one run, one coalesced follow-up)", total, by)
	}
	if by["failed"] > 0 {
		t.Errorf("reconciles failed: %v", by)
	}
	if got := tagRevision(t, tag); got != "asm-1-29" {
		t.Errorf("tag on %q after the push, want asm-1-29", got)
	}
	waitOnRevision(t, ns, "frontend", "asm-1-29")
	code, status := meshops(t, env.Cluster.Kubeconfig, "status", "--state-namespace", stateNS)
	if code != 0 || !strings.Contains(status, commit[:12]) || !strings.Contains(status, "succeeded") {
		t.Errorf("meshops status (exit %d) does not show %s applied:\n%s", code, commit[:12], status)
	}
	p.stop()
}

// Two replicas with --leader-elect against one API server: only the one
// holding the Lease reconciles; when it stops, the other takes over.
func TestTwoRunReplicasReconcileOneAtATime(t *testing.T) {
	ns := env.Namespace(t, nil)
	stateNS := env.Namespace(t, nil)
	tag := uniqueTag(t)
	dir := t.TempDir()
	e2e.WriteFiles(t, dir, e2e.RepoFiles(tag, "asm-1-29", []string{ns}))
	args := []string{"--repo-path", dir, "--schedule", "@every 1s", "--state-namespace", stateNS, "--leader-elect"}
	a := startRun(t, args...)
	b := startRun(t, args...)

	// Whichever won the Lease reconciles every second; the other never.
	var leader, standby *proc
	for deadline := time.Now().Add(time.Minute); leader == nil; time.Sleep(200 * time.Millisecond) {
		na, _ := a.reconciles()
		nb, _ := b.reconciles()
		switch {
		case na > 0 && nb > 0:
			t.Fatalf("both replicas reconciled (%d and %d)", na, nb)
		case na >= 3:
			leader, standby = a, b
		case nb >= 3:
			leader, standby = b, a
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica became leader:\n%s\n%s", a.out.String(), b.out.String())
		}
	}
	if n, _ := standby.reconciles(); n != 0 {
		t.Fatalf("the standby replica reconciled %d times while the other led", n)
	}
	leader.stop()
	standby.waitReconciles(1, time.Minute)
	standby.stop()
}
