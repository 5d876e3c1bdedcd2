package bench

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshops/meshops/test/procstat"
)

// meter counts the HTTP requests of the clients built from its config,
// and keeps, per kind of request, their number and time on the wire.
type meter struct {
	n      atomic.Int64
	mu     sync.Mutex
	byKind map[string]*requestStats
}

type requestStats struct {
	count int
	wire  time.Duration
}

// config is base with every request counted and the client rate limits
// meshops' CLI sets (cmd/meshops; -client-qps), so the runs see what users
// get.
func (m *meter) config(base *rest.Config) *rest.Config {
	return m.configLimited(base, float32(*clientQPS), int(2**clientQPS))
}

// configLimited is base with every request counted and the given client
// rate limits: 0 leaves client-go's defaults (5 QPS, burst 10, per API
// group client), a negative QPS lifts the limit.
func (m *meter) configLimited(base *rest.Config, qps float32, burst int) *rest.Config {
	cfg := rest.CopyConfig(base)
	cfg.QPS, cfg.Burst = qps, burst
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			m.n.Add(1)
			start := time.Now()
			resp, err := rt.RoundTrip(r)
			m.record(requestKind(r), time.Since(start))
			return resp, err
		})
	})
	return cfg
}

func (m *meter) count() int64 { return m.n.Load() }

func (m *meter) record(kind string, wire time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byKind == nil {
		m.byKind = map[string]*requestStats{}
	}
	st := m.byKind[kind]
	if st == nil {
		st = &requestStats{}
		m.byKind[kind] = st
	}
	st.count++
	st.wire += wire
}

// reset forgets the kinds seen so far (the count goes on).
func (m *meter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byKind = nil
}

// breakdown lists the kinds of request, the most frequent first, with
// their mean time on the wire (until the response headers; a watch's
// lifetime is not in it).
func (m *meter) breakdown() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	kinds := make([]string, 0, len(m.byKind))
	for k := range m.byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return m.byKind[kinds[i]].count > m.byKind[kinds[j]].count })
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		st := m.byKind[k]
		parts = append(parts, fmt.Sprintf("%s %d (%.1f ms)", k, st.count, float64(st.wire)/float64(st.count)/float64(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// requestKind names a request by verb and resource: "GET deployments",
// "LIST pods", "WATCH deployments", "PUT configmaps", "POST pods".
func requestKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	skip := 2 // api/v1
	if parts[0] == "apis" {
		skip = 3 // apis/group/version
	}
	if len(parts) <= skip {
		return r.Method + " discovery"
	}
	rest := parts[skip:]
	if rest[0] == "namespaces" && len(rest) >= 3 {
		rest = rest[2:] // a namespaced resource
	}
	resource := rest[0]
	if len(rest) >= 3 {
		resource += "/" + rest[2] // a subresource
	}
	verb := r.Method
	if verb == http.MethodGet {
		switch {
		case r.URL.Query().Get("watch") == "true":
			verb = "WATCH"
		case len(rest) == 1:
			verb = "LIST"
		}
	}
	return verb + " " + resource
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// resetPeakRSS returns what the process holds to the OS and resets the
// kernel's high-water mark of its resident set (Linux: clear_refs 5), so
// the next peakRSS is the peak of what runs in between.
func resetPeakRSS() error {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS reads VmHWM, the resident set's high-water mark, in bytes.
func peakRSS() (int64, error) {
	_, m, err := readStatus("/proc/self/status")
	return m.Peak, err
}

// rss is a process's peak resident set and the part backed by files.
type rss = procstat.Memory

// readStatus reads a process's name (comm) and rss from its /proc status
// file.
var readStatus = procstat.ReadStatus

// profile writes a CPU profile of what runs until the returned stop into
// the -profiles folder, named after the row, and the allocation profiles
// at start and stop (compare them with go tool pprof -diff_base); nothing
// without the flag.
func profile(b *testing.B, row string) (stop func()) {
	if *profileDir == "" {
		return func() {}
	}
	base := filepath.Join(*profileDir, strings.NewReplacer("/", "_", " ", "_").Replace(row))
	writeAllocs := func(path string) {
		runtime.GC() // the allocation profile is as of the last GC
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
	}
	writeAllocs(base + ".allocs-start.pprof")
	f, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("CPU profile %s: %v (do not combine -profiles with -cpuprofile)", f.Name(), err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		writeAllocs(base + ".allocs.pprof")
	}
}

func TestRequestKindNamesVerbAndResource(t *testing.T) {
	for _, tc := range []struct{ method, url, want string }{
		{"GET", "/api/v1/namespaces/ns/pods", "LIST pods"},
		{"GET", "/api/v1/pods?labelSelector=a%3Db", "LIST pods"},
		{"GET", "/apis/apps/v1/namespaces/ns/deployments/web", "GET deployments"},
		{"GET", "/apis/apps/v1/namespaces/ns/deployments?fieldSelector=metadata.name%3Dweb&watch=true", "WATCH deployments"},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web", "PATCH deployments"},
		{"PUT", "/api/v1/namespaces/ns/configmaps/meshops-state", "PUT configmaps"},
		{"POST", "/api/v1/namespaces/ns/pods?dryRun=All", "POST pods"},
		{"GET", "/api/v1/namespaces/ns", "GET namespaces"},
		{"GET", "/api/v1/namespaces", "LIST namespaces"},
		{"PUT", "/api/v1/namespaces/ns/pods/p/status", "PUT pods/status"},
		{"GET", "/apis/apps/v1", "GET discovery"},
		{"GET", "/api", "GET discovery"},
	} {
		r, err := http.NewRequest(tc.method, "https://127.0.0.1:6443"+tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := requestKind(r); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}
