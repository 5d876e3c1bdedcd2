package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RepoFiles is a config repo for a test's slice of the cluster: every
// namespace joins the mesh through tag and carries a default deny plus an
// ALLOW for its neighbour's default ServiceAccount; extra manifests are
// appended. Restarts go two at a time in the namespaces' order, with
// auto-rollback on.
func RepoFiles(tag, target string, namespaces []string, extra ...string) map[string]string {
	settings := fmt.Sprintf(`meshops:
  namespaces: [%[1]s]
  restart: {batchSize: 2, workloadTimeout: 45s, timeout: 5m, namespaceOrder: [%[1]s]}
  autoRollback: true
`, strings.Join(namespaces, ", "))
	values := fmt.Sprintf(`defaults:
  svc:
    istio:
      tag: %s
      versions: "asm-1-28,asm-1-29"
      targetVersion: %s
`, tag, target)
	var manifests strings.Builder
	for i, ns := range namespaces {
		peer := namespaces[(i+1)%len(namespaces)]
		fmt.Fprintf(&manifests, `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: %s}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-peer, namespace: %s}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/%s/sa/default"]}
`, ns, ns, peer)
	}
	for _, e := range extra {
		manifests.WriteString("---\n" + e)
	}
	return map[string]string{
		"meshops.yaml":       settings,
		"config/config.yaml": values,
		"mesh/policies.yaml": manifests.String(),
	}
}

// WriteFiles writes files (path relative to dir → content) into dir, with
// the folders they need, readable by the owner only: tests write secrets
// with it too.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
