// Package gitrepo makes real git repositories for tests with go-git: a
// folder, its files, and commits with a fixed author and clock, so that
// commit hashes are the same on every run.
package gitrepo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a git work tree in a test's temporary folder.
type Repo struct {
	Dir  string
	repo *git.Repository
	t    testing.TB
	// commits counts commits, to give each its own time.
	commits int
}

// New initialises an empty repository in a new temporary folder.
func New(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{Dir: dir, repo: r, t: t}
}

// Write creates or replaces files (slash paths → content) in the work tree.
func (r *Repo) Write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		path := filepath.Join(r.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// CopyDir copies a folder of files into the work tree at dest.
func (r *Repo) CopyDir(src, dest string) {
	r.t.Helper()
	if err := os.CopyFS(filepath.Join(r.Dir, filepath.FromSlash(dest)), os.DirFS(src)); err != nil {
		r.t.Fatal(err)
	}
}

// Remove deletes a file from the work tree.
func (r *Repo) Remove(name string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.Dir, filepath.FromSlash(name))); err != nil {
		r.t.Fatal(err)
	}
}

// Commit stages every change, removals included, and commits; it returns
// the commit hash.
func (r *Repo) Commit(message string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	r.commits++
	when := time.Date(2026, 1, 1, 0, r.commits, 0, 0, time.UTC)
	sig := &object.Signature{Name: "meshops test", Email: "test@meshops.invalid", When: when}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}
