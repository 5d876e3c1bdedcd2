package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The git rows come from sync/gitsource's own benchmarks (a 1,000-manifest
// repo served over HTTP by its test server), run by `make bench` before
// this package; -git-bench names their output.

var (
	gitBenchName   = regexp.MustCompile(`\b(BenchmarkFetch\w+?)(?:-\d+)?\s`)
	gitBenchResult = regexp.MustCompile(`^\s*(\d+)\s+([\d.]+) ns/op(?:\s+(\d+) B/op)?(?:\s+(\d+) allocs/op)?`)
)

// gitResult is one of gitsource's fetch benchmarks.
type gitResult struct {
	Name       string
	Iterations int
	PerOp      time.Duration
	Bytes      int64
	Allocs     int64
}

// readGitBench reads `go test -bench` output. Its test server logs
// between a benchmark's name and its result, so a result belongs to the
// last name seen.
func readGitBench(path string) ([]gitResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []gitResult
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := gitBenchName.FindStringSubmatch(line + " "); m != nil {
			name = m[1]
			line = line[strings.Index(line, m[1])+len(m[1]):]
			line = strings.TrimLeft(line, "-0123456789")
		}
		m := gitBenchResult.FindStringSubmatch(line)
		if m == nil || name == "" {
			continue
		}
		r := gitResult{Name: name}
		r.Iterations, _ = strconv.Atoi(m[1])
		ns, _ := strconv.ParseFloat(m[2], 64)
		r.PerOp = time.Duration(ns)
		r.Bytes, _ = strconv.ParseInt(m[3], 10, 64)
		r.Allocs, _ = strconv.ParseInt(m[4], 10, 64)
		out = append(out, r)
		name = ""
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no BenchmarkFetch result", path)
	}
	return out, nil
}

// gitsource's test server logs between a benchmark's name and its result;
// each result still goes to the right benchmark.
func TestGitBenchResultsAreReadAcrossTheServerLog(t *testing.T) {
	out := `goos: linux
pkg: github.com/meshops/meshops/sync/gitsource
BenchmarkFetchNoChange-2   	2026/11/26 23:40:30 request: GET 127.0.0.1:43103/org/config.git/info/refs?service=git-upload-pack
2026/11/26 23:40:31 request: POST 127.0.0.1:43103/org/config.git/git-upload-pack
      20	  38921581 ns/op	10410004 B/op	  265831 allocs/op
BenchmarkFetchNewCommit-2  	      20	  48083647 ns/op	11048041 B/op	  275322 allocs/op
PASS
`
	path := filepath.Join(t.TempDir(), "gitsource.txt")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readGitBench(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []gitResult{
		{Name: "BenchmarkFetchNoChange", Iterations: 20, PerOp: 38921581 * time.Nanosecond, Bytes: 10410004, Allocs: 265831},
		{Name: "BenchmarkFetchNewCommit", Iterations: 20, PerOp: 48083647 * time.Nanosecond, Bytes: 11048041, Allocs: 275322},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
