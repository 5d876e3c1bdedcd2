package configs

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/meshops/meshops/test/fixtures"
)

// BenchmarkLoadFleet loads the repo of make bench's 2,000-workload fleet:
// 500 files, 10,000 AuthorizationPolicies.
func BenchmarkLoadFleet(b *testing.B) {
	dir := writeFiles(b, fixtures.FleetRepo(2000, "defaults:\n  svc:\n    istio:\n      tag: bench-fleet\n      versions: \"asm-1-28,asm-1-29\"\n      targetVersion: asm-1-29\n"))
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
