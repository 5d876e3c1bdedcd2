package gitsource

import (
	"fmt"
	"testing"
)

// manifestRepo is an upstream holding files manifests of the size and shape
// of an AuthorizationPolicy each, one per namespace folder.
func manifestRepo(b *testing.B, files int) *upstream {
	b.Helper()
	up := newUpstream(b, "", "")
	set := map[string]string{}
	for i := range files {
		set[fmt.Sprintf("mesh/ns-%04d/allow-nothing.yaml", i)] = fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: ns-%04d
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-frontend
  namespace: ns-%04d
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/frontend/sa/frontend"]
`, i, i)
	}
	up.commit(set, nil)
	up.push("main")
	return up
}

// clonedManifestRepo serves a repo of 1,000 manifests over HTTP and
// returns it with a Source that has cloned it; the timer starts after.
func clonedManifestRepo(b *testing.B) (*upstream, *Source) {
	b.Helper()
	up := manifestRepo(b, 1000)
	src, _ := newSource(b, Options{URL: up.httpURL(), CacheDir: b.TempDir()})
	fetch(b, src)
	b.ReportAllocs()
	b.ResetTimer()
	return up, src
}

// BenchmarkFetchNoChange is one poll that finds nothing new, over HTTP, on a
// repo of 1,000 manifests: ref advertisement, then the checkout confirmed.
func BenchmarkFetchNoChange(b *testing.B) {
	_, src := clonedManifestRepo(b)
	for range b.N {
		if art := fetch(b, src); art.Changed {
			b.Fatal("changed without a push")
		}
	}
}

// BenchmarkFetchNewCommit is one poll that finds a new commit changing one
// of 1,000 manifests, over HTTP: fetch the pack, check the commit out.
func BenchmarkFetchNewCommit(b *testing.B) {
	up, src := clonedManifestRepo(b)
	for i := range b.N {
		b.StopTimer()
		up.commit(map[string]string{"mesh/ns-0000/allow-nothing.yaml": fmt.Sprintf("# change %d\n", i)}, nil)
		up.push("main")
		b.StartTimer()
		if art := fetch(b, src); !art.Changed {
			b.Fatal("a push was not fetched")
		}
	}
}
