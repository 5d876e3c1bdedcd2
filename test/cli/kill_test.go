package cli_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/test/e2e"
)

// kill -9 of meshops sync at several moments of an upgrade, then a second
// sync: it converges, every workload ends on the target, and none was
// restarted twice (each Deployment has exactly its original ReplicaSet and
// one from the restart).
func TestSyncKilledWithSIGKILLResumesWithoutADoubleRestart(t *testing.T) {
	for _, after := range []time.Duration{300 * time.Millisecond, 900 * time.Millisecond, 1800 * time.Millisecond} {
		t.Run(fmt.Sprintf("killed after %s", after), func(t *testing.T) {
			ns := env.Namespace(t, nil)
			stateNS := env.Namespace(t, nil)
			tag := uniqueTag(t)
			repo := t.TempDir()
			e2e.WriteFiles(t, repo, e2e.RepoFiles(tag, "asm-1-28", []string{ns}))
			if code, out := meshops(t, env.Cluster.Kubeconfig, "sync", "--repo-path", repo, "--state-namespace", stateNS); code != 0 {
				t.Fatalf("install: exit %d\n%s", code, out)
			}
			var names []string
			for i := range 4 {
				name := fmt.Sprintf("app-%d", i)
				env.CreateDeployment(t, ns, name, e2e.DeploymentOptions{Replicas: 1})
				names = append(names, name)
			}
			for _, n := range names {
				waitOnRevision(t, ns, n, "asm-1-28")
			}

			e2e.WriteFiles(t, repo, e2e.RepoFiles(tag, "asm-1-29", []string{ns}))
			cmd := exec.Command(meshopsBin, "sync", "--repo-path", repo, "--state-namespace", stateNS, "--kubeconfig", env.Cluster.Kubeconfig)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(after)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()

			code, out := meshops(t, env.Cluster.Kubeconfig, "sync", "--repo-path", repo, "--state-namespace", stateNS)
			if code != 0 {
				t.Fatalf("sync after the kill: exit %d\n%s", code, out)
			}
			restartedOnceOnto(t, ns, names, "asm-1-29")
			if code, out := meshops(t, env.Cluster.Kubeconfig, "plan", "--repo-path", repo, "--state-namespace", stateNS); code != 0 || !strings.Contains(out, "in sync") {
				t.Errorf("plan after convergence: exit %d\n%s", code, out)
			}
		})
	}
}
