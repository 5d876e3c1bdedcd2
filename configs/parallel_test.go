package configs

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// loadWith loads dir with GOMAXPROCS set to procs, so that the manifest
// files are parsed on that many goroutines.
func loadWith(t *testing.T, procs int, opts Options) (*Config, string) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	c, err := Load(context.Background(), opts)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return c, msg
}

// manyFiles is a repo of 40 manifest files of 25 policies each, some of
// them broken, so that the load's problems come from many files.
func manyFiles() map[string]string {
	files := map[string]string{
		"meshops.yaml":       "meshops:\n  namespaces: [ns]\n",
		"config/config.yaml": goodRepo["config/config.yaml"],
	}
	for f := range 40 {
		var b strings.Builder
		for p := range 25 {
			switch {
			case f%7 == 3 && p == 5:
				b.WriteString("---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad, namespace: ns}\nspec: {action: MAYBE}\n")
			case f%9 == 4 && p == 7:
				b.WriteString("---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: [x], namespace: ns}\n")
			default:
				fmt.Fprintf(&b, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p-%d-%d, namespace: ns}\nspec:\n  rules:\n  - from:\n    - source: {principals: [\"cluster.local/ns/ns/sa/s%d\"]}\n", f, p, p)
			}
		}
		files[fmt.Sprintf("mesh/f%02d.yaml", f)] = b.String()
	}
	return files
}

func TestManifestsLoadTheSameOnOneCoreAndOnMany(t *testing.T) {
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, manyFiles())
	one, oneMsg := loadWith(t, 1, opts)
	many, manyMsg := loadWith(t, 4, opts)
	if oneMsg == "" || oneMsg != manyMsg {
		t.Errorf("problems differ:\none core:\n%s\nfour:\n%s", oneMsg, manyMsg)
	}
	if len(one.Manifests) != len(many.Manifests) || len(one.Manifests) < 900 {
		t.Fatalf("%d manifests on one core, %d on four", len(one.Manifests), len(many.Manifests))
	}
	for i := range one.Manifests {
		if a, b := one.Manifests[i], many.Manifests[i]; a.ID() != b.ID() || a.Source != b.Source {
			t.Fatalf("manifest %d: %s at %s on one core, %s at %s on four", i, a.ID(), a.Source, b.ID(), b.Source)
		}
	}
}

// A limit of the whole load crossed in the middle of the files is
// reported at the same file and line however many goroutines parse them,
// and the files after it are left unread alike.
func TestALimitCrossedMidwayIsReportedTheSameOnOneCoreAndOnMany(t *testing.T) {
	for _, limits := range []Limits{{Objects: 300}, {Values: 3_000}} {
		opts := DefaultOptions()
		opts.RepoPath = writeFiles(t, manyFiles())
		opts.Limits = limits
		_, oneMsg := loadWith(t, 1, opts)
		if !strings.Contains(oneMsg, "refused: more than") {
			t.Fatalf("limits %+v not crossed:\n%s", limits, oneMsg)
		}
		for range 5 {
			if _, manyMsg := loadWith(t, 4, opts); manyMsg != oneMsg {
				t.Fatalf("limits %+v: problems differ:\none core:\n%s\nfour:\n%s", limits, oneMsg, manyMsg)
			}
		}
	}
}
