package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
)

var (
	env *e2e.Env

	profileDir = flag.String("profiles", "", "write a CPU profile of each measured row into this folder (row name.pprof)")
	tableFile  = flag.String("table", "", "also write the result table to this file")
	gitBench   = flag.String("git-bench", "", "output of sync/gitsource's BenchmarkFetch* runs, for the git rows")
	moreBatch  = flag.String("more-batch-sizes", "", "comma-separated batch sizes to also upgrade the largest fleet with, to weigh another default")
	meshopsBin = flag.String("meshops", "", "a built meshops binary: also time `meshops plan` on the largest fleet and read its peak RSS, the whole process")
	clientQPS  = flag.Float64("client-qps", 50, "meshops' client rate limit per resource (cmd/meshops sets 50, burst twice that); -1 lifts it")
	hold       = flag.Bool("hold", false, "after the observe + plan row's largest fleet, print how to reach it and keep it up until interrupted, to profile meshops against it by hand")
)

// podStartDelay stands in for container start: kwok marks a pod ready this
// long after it is scheduled. Both upgrade methods wait for it per pod.
const podStartDelay = 2 * time.Second

// clusterOptions make room for the fleet: a node that takes every pod, and
// controllers that are not rate-limited below what hundreds of concurrent
// rollouts need, so the table measures meshops and kubectl, not the
// controller-manager's client throttle.
var clusterOptions = controlplane.Options{
	PodStartDelay:   podStartDelay,
	NodePods:        5000,
	ControllerQPS:   500,
	ControllerBurst: 1000,
}

// TestMain starts the full control plane only for benchmarks: `go test
// ./...` without -bench runs the package's few unit tests and nothing else.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	started := time.Now()
	e, stop, err := e2e.Start(clusterOptions)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	env = e
	progress("control plane up in %s", time.Since(started).Round(time.Millisecond))
	if *gitBench != "" {
		git, err := readGitBench(*gitBench)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: -git-bench: %v\n", err)
			os.Exit(1)
		}
		results.git = git
	}
	code := m.Run()
	stop()
	table := results.markdown()
	fmt.Print("\n" + table)
	if *tableFile != "" {
		if err := os.WriteFile(*tableFile, []byte(table), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// progress tells the person waiting on a 15-minute run where it is; the
// benchmark output itself comes at the end.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
