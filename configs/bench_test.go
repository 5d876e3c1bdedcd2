package configs

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeFleetRepo writes a config repo of the shape test/bench loads: n
// workloads, four per namespace, five AuthorizationPolicies each (the
// first of a namespace its default deny), one file per namespace.
func writeFleetRepo(b testing.TB, n int) string {
	const perNamespace, perWorkload = 4, 5
	files := map[string]string{"config/config.yaml": "defaults:\n  svc:\n    istio:\n      tag: bench-fleet\n      versions: \"asm-1-28,asm-1-29\"\n      targetVersion: asm-1-29\n"}
	var names []string
	for nsi := range (n + perNamespace - 1) / perNamespace {
		ns := fmt.Sprintf("fleet-%04d", nsi)
		names = append(names, ns)
		var doc strings.Builder
		for w := range perNamespace {
			app := fmt.Sprintf("app-%d", w)
			for k := range perWorkload {
				if w == 0 && k == 0 {
					fmt.Fprintf(&doc, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: %s}\nspec: {}\n", ns)
					continue
				}
				fmt.Fprintf(&doc, `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: %[2]s-allow-%[3]d, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: %[2]s}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/%[1]s/sa/client-%[3]d"]}
    to:
    - operation: {methods: [GET, POST], paths: ["/api/v%[3]d/*"]}
`, ns, app, k)
			}
		}
		files["mesh/"+ns+".yaml"] = doc.String()
	}
	files["meshops.yaml"] = fmt.Sprintf("meshops:\n  namespaces: [%s]\n", strings.Join(names, ", "))
	return writeFiles(b, files)
}

// BenchmarkLoadFleet loads the repo of a 2,000-workload fleet: 500 files,
// 10,000 AuthorizationPolicies.
func BenchmarkLoadFleet(b *testing.B) {
	dir := writeFleetRepo(b, 2000)
	opts := DefaultOptions()
	opts.RepoPath = dir
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		c, err := Load(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.Manifests) != 10_000 {
			b.Fatalf("%d manifests, want 10000", len(c.Manifests))
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time this process has used, user and system: on a
// shared machine the wall time of a benchmark says more about the others.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
