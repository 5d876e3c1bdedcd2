package cli_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/test/e2e"
)

// Two meshops sync started together on one cluster: one holds the writer
// lock and upgrades; the other is refused at once naming the holder; every
// workload is restarted exactly once.
func TestTwoSyncsStartedTogetherRestartEachWorkloadOnceAndTheSecondNamesTheHolder(t *testing.T) {
	ns, stateNS, repo, names := upgradeToCome(t)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			var out bytes.Buffer
			cmd := exec.Command(meshopsBin, "sync", "--repo-path", repo, "--state-namespace", stateNS, "--kubeconfig", env.Cluster.Kubeconfig)
			cmd.Stdout, cmd.Stderr = &out, &out
			codes[i] = 0
			if err := cmd.Run(); err != nil {
				codes[i] = cmd.ProcessState.ExitCode()
			}
			outs[i] = out.String()
		})
	}
	wg.Wait()
	ok, refused := 0, 0
	for i := range 2 {
		switch {
		case codes[i] == 0:
			ok++
		case codes[i] == 1 && strings.Contains(outs[i], "is held by") && strings.Contains(outs[i], "(meshops sync)"):
			refused++
		default:
			t.Errorf("sync %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("%d syncs upgraded and %d were refused naming the holder; want 1 and 1:\n%s\n---\n%s", ok, refused, outs[0], outs[1])
	}
	restartedOnceOnto(t, ns, names, "asm-1-29")
}

// A meshops sync while meshops run rolls out the same change: the writer
// lock lets one of them do it; the sync is refused naming the run (or, if
// the run finished first, finds nothing to do), and each workload is
// restarted exactly once.
func TestASyncDuringRunRestartsEachWorkloadOnce(t *testing.T) {
	ns, stateNS, repo, names := upgradeToCome(t)
	run := startRun(t, "--repo-path", repo, "--state-namespace", stateNS, "--schedule", "@every 1h")
	code, out := meshops(t, env.Cluster.Kubeconfig, "sync", "--repo-path", repo, "--state-namespace", stateNS)
	switch {
	case code == 1 && strings.Contains(out, "is held by") && strings.Contains(out, "(meshops run)"):
		t.Logf("the sync was refused while the run rolled out: %s", lastLine(out))
	case code == 0:
		t.Logf("the sync ran when the run was not writing")
	default:
		t.Fatalf("sync during run: exit %d\n%s", code, out)
	}
	run.waitReconciles(1, 2*time.Minute)
	run.stop()
	restartedOnceOnto(t, ns, names, "asm-1-29")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// upgradeToCome sets up what the writer tests race on: a mesh namespace
// with three Deployments synced onto asm-1-28, and its repo already
// changed to asm-1-29, not synced yet.
func upgradeToCome(t *testing.T) (ns, stateNS, repo string, names []string) {
	t.Helper()
	ns, stateNS = env.Namespace(t, nil), env.Namespace(t, nil)
	tag := uniqueTag(t)
	repo = t.TempDir()
	e2e.WriteFiles(t, repo, e2e.RepoFiles(tag, "asm-1-28", []string{ns}))
	if code, out := meshops(t, env.Cluster.Kubeconfig, "sync", "--repo-path", repo, "--state-namespace", stateNS); code != 0 {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	names = []string{"app-0", "app-1", "app-2"}
	for _, n := range names {
		env.CreateDeployment(t, ns, n, e2e.DeploymentOptions{Replicas: 1})
	}
	for _, n := range names {
		waitOnRevision(t, ns, n, "asm-1-28")
	}
	e2e.WriteFiles(t, repo, e2e.RepoFiles(tag, "asm-1-29", []string{ns}))
	return ns, stateNS, repo, names
}

// restartedOnceOnto waits until each Deployment runs rev and checks it has
// exactly its original ReplicaSet and the one of a single restart.
func restartedOnceOnto(t *testing.T, ns string, names []string, rev string) {
	t.Helper()
	for _, n := range names {
		waitOnRevision(t, ns, n, rev)
		rs, err := env.Clientset.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + n})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs.Items) != 2 {
			t.Errorf("%s has %d ReplicaSets, want 2 (restarted exactly once)", n, len(rs.Items))
		}
	}
}
