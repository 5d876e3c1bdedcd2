package gitsource

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFetchClonesThenReportsOnlyNewCommitsAsChanged(t *testing.T) {
	up := newUpstream(t, "", "")
	first := up.commit(map[string]string{"mesh/a.yaml": "kind: A\n"}, nil)
	up.push("main")
	src, logs := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir()})

	art := fetch(t, src)
	if art.Commit != first.String() || !art.Changed || art.Previous != "" || art.Ref != "refs/heads/main" {
		t.Fatalf("first fetch = %+v, want commit %s, changed, no previous", art, first)
	}
	if got := readFile(t, art, "mesh/a.yaml"); got != "kind: A\n" {
		t.Errorf("mesh/a.yaml = %q", got)
	}
	wantLog(t, logs, "msg=cloned")

	again := fetch(t, src)
	if again.Changed || again.Commit != first.String() || again.Previous != first.String() {
		t.Errorf("fetch without a new commit = %+v, want unchanged at %s", again, first)
	}

	second := up.commit(map[string]string{"mesh/a.yaml": "", "mesh/b.yaml": "kind: B\n"}, nil)
	up.push("main")
	next := fetch(t, src)
	if !next.Changed || next.Commit != second.String() || next.Previous != first.String() || next.ForcePushed {
		t.Errorf("fetch after a push = %+v, want changed to %s from %s, no force push", next, second, first)
	}
	if readFile(t, next, "mesh/a.yaml") != "" || readFile(t, next, "mesh/b.yaml") != "kind: B\n" {
		t.Errorf("checkout does not match the new commit: a=%q b=%q", readFile(t, next, "mesh/a.yaml"), readFile(t, next, "mesh/b.yaml"))
	}
	wantLog(t, logs, "fetched a new commit")
}

func TestFetchUndoesEditsInTheCheckout(t *testing.T) {
	up := newUpstream(t, "", "")
	src, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir()})
	art := fetch(t, src)

	if err := os.WriteFile(filepath.Join(art.Path, "config/config.yaml"), []byte("targetVersion: hacked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(art.Path, "stray.yaml"), []byte("kind: Stray\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	again := fetch(t, src)
	if got := readFile(t, again, "config/config.yaml"); got != "targetVersion: asm-1-28\n" {
		t.Errorf("edited file = %q, want it restored", got)
	}
	if got := readFile(t, again, "stray.yaml"); got != "" {
		t.Errorf("untracked file survived: %q", got)
	}
	if again.Changed {
		t.Errorf("restoring the checkout reported a change: %+v", again)
	}
}

func TestShallowCloneFetchesLaterCommits(t *testing.T) {
	up := newUpstream(t, "", "")
	up.commit(map[string]string{"mesh/a.yaml": "kind: A\n"}, nil)
	up.push("main")
	src, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Shallow: true})
	fetch(t, src)
	if !isShallow(openCacheRepo(t, src)) {
		t.Fatal("the first clone is not shallow")
	}

	up.commit(map[string]string{"mesh/b.yaml": "kind: B\n"}, nil)
	next := up.commit(map[string]string{"mesh/c.yaml": "kind: C\n"}, nil)
	up.push("main")
	art := fetch(t, src)
	if art.Commit != next.String() || !art.Changed || art.ForcePushed {
		t.Errorf("fetch after two commits = %+v, want %s, changed, no force push", art, next)
	}
	if readFile(t, art, "mesh/b.yaml") != "kind: B\n" || readFile(t, art, "mesh/c.yaml") != "kind: C\n" {
		t.Error("the new commits' files are missing from the checkout")
	}
}
