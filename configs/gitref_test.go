package configs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshops/meshops/test/gitrepo"
)

const exampleDir = "examples/aro-hcp-dev"

// The config at a ref is read from git, not from the work tree: a repo
// kept in a subfolder, one commit that moves the target, and an edit left
// uncommitted that only the work tree shows.
func TestLoadGitRefReadsTheConfigAsCommittedAtTheRef(t *testing.T) {
	repo := gitrepo.New(t)
	repo.CopyDir(exampleDir, "clusters/dev")
	first := repo.Commit("the example")

	values := filepath.Join(repo.Dir, "clusters", "dev", "config", "config.yaml")
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(data), `versions: "asm-1-28,asm-1-29"
              targetVersion: "asm-1-29"`, `versions: "asm-1-28,asm-1-29"
              targetVersion: "asm-1-28"`, 1)
	if moved == string(data) {
		t.Fatal("the example's env layer no longer sets targetVersion asm-1-29; update the test")
	}
	repo.Write(map[string]string{"clusters/dev/config/config.yaml": moved})
	second := repo.Commit("roll back to asm-1-28")
	repo.Write(map[string]string{"clusters/dev/config/config.yaml": strings.Replace(moved, `tag: "prod-stable"`, `tag: "uncommitted"`, 1)})

	opts := DefaultOptions()
	opts.RepoPath = filepath.Join(repo.Dir, "clusters", "dev")
	for _, tc := range []struct {
		ref, commit, target string
	}{
		{"HEAD~1", first, "asm-1-29"},
		{first[:8], first, "asm-1-29"},
		{"HEAD", second, "asm-1-28"},
		{"master", second, "asm-1-28"},
	} {
		cfg, commit, err := LoadGitRef(context.Background(), opts, tc.ref)
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		if commit != tc.commit[:12] {
			t.Errorf("%s resolved to %s, want %s", tc.ref, commit, tc.commit[:12])
		}
		if cfg.Istio.Target.Name != tc.target || cfg.Istio.Tag != "prod-stable" {
			t.Errorf("%s: target %s tag %s, want %s and prod-stable as committed", tc.ref, cfg.Istio.Target.Name, cfg.Istio.Tag, tc.target)
		}
		if len(cfg.Manifests) == 0 || cfg.Settings.Extensions.Restart.BatchSize != 2 {
			t.Errorf("%s: %d manifests, batch size %d: meshops.yaml or the manifests were not read", tc.ref, len(cfg.Manifests), cfg.Settings.Extensions.Restart.BatchSize)
		}
		if cfg.RepoPath != opts.RepoPath {
			t.Errorf("%s: RepoPath %s, want the caller's %s", tc.ref, cfg.RepoPath, opts.RepoPath)
		}
	}
}

func TestLoadGitRefFailsClearly(t *testing.T) {
	repo := gitrepo.New(t)
	repo.CopyDir(exampleDir, ".")
	repo.Commit("the example")
	outside := DefaultOptions()
	outside.RepoPath = repo.Dir
	outside.Values = "../values.yaml"
	for _, tc := range []struct {
		name string
		opts Options
		ref  string
		want string
	}{
		{"unknown ref", Options{RepoPath: repo.Dir}, "origin/main", "resolving origin/main"},
		{"not a git repository", Options{RepoPath: t.TempDir()}, "HEAD", "opening the git repository"},
		{"values outside the repo", outside, "HEAD", "outside the config repo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadGitRef(context.Background(), tc.opts, tc.ref)
			var probs Problems
			if err == nil || errors.As(err, &probs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one that says %q", err, tc.want)
			}
		})
	}
}

// A ref where the config has problems still loads, with the problems.
func TestLoadGitRefReturnsTheConfigWithItsProblems(t *testing.T) {
	repo := gitrepo.New(t)
	repo.CopyDir(exampleDir, ".")
	repo.Write(map[string]string{"mesh/broken.yaml": "kind: [unclosed\n"})
	repo.Commit("a broken manifest")
	cfg, _, err := LoadGitRef(context.Background(), Options{RepoPath: repo.Dir}, "HEAD")
	var probs Problems
	if !errors.As(err, &probs) || cfg == nil || cfg.Istio.Target.Name != "asm-1-29" {
		t.Fatalf("config %v, error %v: want the config and its problems", cfg != nil, err)
	}
	if !strings.Contains(probs.Error(), "mesh/broken.yaml") {
		t.Errorf("problems do not name the broken file: %v", probs)
	}
}

// A commit is as untrusted as a work tree: LoadGitRef writes no more of a
// file than Load would read (so a huge blob is refused as too large, not
// copied out whole), and stops at the limit on files.
func TestLoadGitRefKeepsToTheLimits(t *testing.T) {
	repo := gitrepo.New(t)
	repo.CopyDir(exampleDir, ".")
	repo.Write(map[string]string{"mesh/big.yaml": "# " + strings.Repeat("x", 10_000) + "\n"})
	repo.Commit("a big manifest")

	opts := Options{RepoPath: repo.Dir, Limits: Limits{FileBytes: 5000}}
	_, _, err := LoadGitRef(context.Background(), opts, "HEAD")
	var probs Problems
	if !errors.As(err, &probs) || !strings.Contains(probs.Error(), "mesh/big.yaml: refused: larger than 5000 bytes (limit FileBytes)") {
		t.Errorf("error %v, want big.yaml refused as too large", err)
	}

	opts = Options{RepoPath: repo.Dir, Limits: Limits{Entries: 3}}
	if _, _, err := LoadGitRef(context.Background(), opts, "HEAD"); err == nil || !strings.Contains(err.Error(), "more than 3 files to read at this ref (limit Entries)") {
		t.Errorf("error %v, want the limit on files", err)
	}
}
