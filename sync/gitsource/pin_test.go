package gitsource

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPinnedTagIsCheckedOutAndAMovedTagIsReported(t *testing.T) {
	for _, annotated := range []string{"", "release v1"} {
		name := "lightweight"
		if annotated != "" {
			name = "annotated"
		}
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t, "", "")
			tagged := up.commit(map[string]string{"mesh/a.yaml": "kind: V1\n"}, nil)
			up.tag("v1", tagged, annotated)
			up.commit(map[string]string{"mesh/a.yaml": "kind: Later\n"}, nil)
			up.push("main")
			src, logs := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Tag: "v1", Shallow: true})

			art := fetch(t, src)
			if art.Commit != tagged.String() || art.Ref != "refs/tags/v1" || readFile(t, art, "mesh/a.yaml") != "kind: V1\n" {
				t.Fatalf("fetch of tag v1 = %+v (a.yaml %q), want %s", art, readFile(t, art, "mesh/a.yaml"), tagged)
			}

			up.commit(map[string]string{"mesh/a.yaml": "kind: NotTagged\n"}, nil)
			up.push("main")
			if art := fetch(t, src); art.Changed || art.Commit != tagged.String() {
				t.Errorf("a push to main moved the tag pin: %+v", art)
			}

			retagged := up.commit(map[string]string{"mesh/a.yaml": "kind: V1Again\n"}, nil)
			up.tag("v1", retagged, annotated)
			art = fetch(t, src)
			if !art.ForcePushed || art.Commit != retagged.String() || readFile(t, art, "mesh/a.yaml") != "kind: V1Again\n" {
				t.Errorf("fetch of a moved tag = %+v, want force pushed to %s", art, retagged)
			}
			wantLog(t, logs, "tag moved")
		})
	}
}

func TestPinnedCommitIsCheckedOutAndNotMovedByPushes(t *testing.T) {
	up := newUpstream(t, "", "")
	pinned := up.commit(map[string]string{"mesh/a.yaml": "kind: Pinned\n"}, nil)
	up.commit(map[string]string{"mesh/a.yaml": "kind: Later\n"}, nil)
	up.push("main")
	src, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Commit: pinned.String()})

	art := fetch(t, src)
	if art.Commit != pinned.String() || art.Ref != pinned.String() || readFile(t, art, "mesh/a.yaml") != "kind: Pinned\n" {
		t.Fatalf("fetch of a pinned commit = %+v (a.yaml %q)", art, readFile(t, art, "mesh/a.yaml"))
	}
	up.commit(map[string]string{"mesh/a.yaml": "kind: Newer\n"}, nil)
	up.push("main")
	if art := fetch(t, src); art.Changed || art.Commit != pinned.String() {
		t.Errorf("a push moved the commit pin: %+v", art)
	}
}

func TestPinnedCommitOlderThanAShallowCacheIsFetchedInFull(t *testing.T) {
	up := newUpstream(t, "", "")
	old := up.commit(map[string]string{"mesh/a.yaml": "kind: Old\n"}, nil)
	up.commit(map[string]string{"mesh/a.yaml": "kind: New\n"}, nil)
	up.push("main")
	cache := t.TempDir()
	shallow, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: cache, Shallow: true})
	fetch(t, shallow)

	pinned, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: cache, Commit: old.String()})
	art := fetch(t, pinned)
	if art.Commit != old.String() || readFile(t, art, "mesh/a.yaml") != "kind: Old\n" || art.Recloned == "" {
		t.Errorf("pin to a commit beyond the shallow cache = %+v (a.yaml %q), want a full re-clone at %s", art, readFile(t, art, "mesh/a.yaml"), old)
	}
}

func TestPinToAMissingRefFailsAndSaysWhich(t *testing.T) {
	up := newUpstream(t, "", "")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"branch", Options{Branch: "nope"}, "refs/heads/nope"},
		{"tag", Options{Tag: "nope"}, "refs/tags/nope"},
		{"commit", Options{Commit: strings.Repeat("ab", 20)}, strings.Repeat("ab", 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.URL, tc.opts.CacheDir = up.httpURL(), t.TempDir()
			src, _ := newSource(t, tc.opts)
			art, err := src.Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Fetch = %+v, %v; want an error naming %s", art, err, tc.want)
			}
			if errors.Is(err, ErrUnverified) || art.Commit != "" {
				t.Errorf("a missing ref came back as %+v, %v", art, err)
			}
		})
	}
}
