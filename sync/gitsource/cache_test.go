package gitsource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCorruptCacheIsWipedAndClonedAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, dir string)
	}{
		{"HEAD holds garbage", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ".git/HEAD"), "garbage\n")
		}},
		{"objects deleted", func(t *testing.T, dir string) {
			removeAll(t, filepath.Join(dir, ".git/objects"))
			mkdir(t, filepath.Join(dir, ".git/objects"))
		}},
		{"config unreadable", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ".git/config"), "[remote \"origin\"\n\turl = \x00\n")
		}},
		{".git deleted", func(t *testing.T, dir string) {
			removeAll(t, filepath.Join(dir, ".git"))
		}},
		{"pack files truncated", func(t *testing.T, dir string) {
			packs, err := filepath.Glob(filepath.Join(dir, ".git/objects/pack/*.pack"))
			if err != nil || len(packs) == 0 {
				t.Fatalf("no pack files to truncate (%v)", err)
			}
			for _, p := range packs {
				if err := os.Truncate(p, 40); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, "", "")
			src, logs := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir()})
			first := fetch(t, src)

			tc.corrupt(t, first.Path)
			next := up.commit(map[string]string{"mesh/a.yaml": "kind: A\n"}, nil)
			up.push("main")
			art := fetch(t, src)

			if art.Recloned == "" || art.Commit != next.String() || !art.Changed {
				t.Errorf("fetch on a corrupt cache = %+v, want recloned at %s", art, next)
			}
			if readFile(t, art, "mesh/a.yaml") != "kind: A\n" {
				t.Error("checkout after the re-clone lacks the new commit's file")
			}
			wantLog(t, logs, "wiping the git cache")
			if again := fetch(t, src); again.Recloned != "" || again.Changed {
				t.Errorf("fetch after the re-clone = %+v, want a plain unchanged fetch", again)
			}
		})
	}
}

func TestCacheOfAnotherRemoteIsWipedAndClonedAgain(t *testing.T) {
	old := newUpstream(t, "", "")
	cache := t.TempDir()
	src, _ := newSource(t, Options{URL: old.httpURL(), CacheDir: cache})
	fetch(t, src)

	moved := newUpstream(t, "", "")
	want := moved.commit(map[string]string{"mesh/moved.yaml": "kind: Moved\n"}, nil)
	moved.push("main")
	src, logs := newSource(t, Options{URL: moved.httpURL(), CacheDir: cache})
	art := fetch(t, src)

	if !strings.Contains(art.Recloned, "remote URL changed") || art.Commit != want.String() {
		t.Errorf("fetch from a new URL = %+v, want recloned for the URL change at %s", art, want)
	}
	if readFile(t, art, "mesh/moved.yaml") != "kind: Moved\n" {
		t.Error("checkout is not the new remote's")
	}
	if got := originURL(openCacheRepo(t, src)); got != moved.httpURL() {
		t.Errorf("cache's origin = %s, want %s", got, moved.httpURL())
	}
	wantLog(t, logs, "remote URL changed")
}

func TestFolderThatIsNotARepoIsReplacedByAClone(t *testing.T) {
	up := newUpstream(t, "", "")
	cache := t.TempDir()
	writeFile(t, filepath.Join(cache, "repo", "leftover.txt"), "x")
	src, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: cache})

	art := fetch(t, src)
	if art.Recloned != "not a git repository" || readFile(t, art, "leftover.txt") != "" {
		t.Errorf("fetch into a non-repo folder = %+v", art)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func removeAll(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}
