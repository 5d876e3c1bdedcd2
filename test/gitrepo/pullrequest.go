package gitrepo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// PullRequestSecrets are the secret values in PullRequest's two commits;
// no plan or comment may show any of them.
var PullRequestSecrets = []string{"base-values-secret", "head-values-secret", "base-configmap-secret", "head-configmap-secret"}

// PullRequest is the example config repo (configs/examples/aro-hcp-dev,
// at exampleDir) in git with two commits. The base adds a credentials
// ConfigMap, a secret and a plain value of its own and a legacy ALLOW
// policy. The head moves the target back to asm-1-28, rotates both
// secrets, scales the service from 2 to 3, restarts one workload at a time
// instead of two, and swaps the legacy policy for a metrics one. It
// returns the repo and the base commit; HEAD is the head.
func PullRequest(t testing.TB, exampleDir string) (*Repo, string) {
	t.Helper()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(exampleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	values := func(secret, replicas, target string) string {
		s := strings.Replace(read("config/config.yaml"), "  svc:\n", "  svc:\n    mise:\n      clientSecret: \""+secret+"\"\n      replicas: "+replicas+"\n", 1)
		return strings.Replace(s, `targetVersion: "asm-1-29"`+"\n", `targetVersion: "`+target+`"`+"\n", 2)
	}
	credentials := func(secret string) string {
		return `apiVersion: v1
kind: ConfigMap
metadata:
  name: mise-credentials
  namespace: aks-istio-system
data:
  clientId: mise
  clientSecret: "` + secret + `"
`
	}
	repo := New(t)
	repo.CopyDir(exampleDir, ".")
	repo.Write(map[string]string{
		"config/config.yaml": values("base-values-secret", "2", "asm-1-29"),
		"mesh/mise.yaml":     credentials("base-configmap-secret"),
		"mesh/legacy.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-legacy
  namespace: maestro
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/legacy/sa/legacy"]
`,
	})
	base := repo.Commit("base")
	repo.Remove("mesh/legacy.yaml")
	repo.Write(map[string]string{
		"config/config.yaml": values("head-values-secret", "3", "asm-1-28"),
		"mesh/mise.yaml":     credentials("head-configmap-secret"),
		"meshops.yaml":       strings.Replace(read("meshops.yaml"), "batchSize: 2", "batchSize: 1", 1),
		"mesh/metrics.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-metrics
  namespace: aro-hcp
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        ports: ["9090"]
`,
	})
	repo.Commit("roll back to asm-1-28, rotate the mise secret, swap the legacy policy")
	return repo, base
}
