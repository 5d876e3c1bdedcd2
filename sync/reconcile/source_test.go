package reconcile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/test/gitrepo"
)

func TestADirSourceSaysWhenItsWorkTreeHasUncommittedChanges(t *testing.T) {
	repo := gitrepo.New(t)
	repo.Write(map[string]string{"mesh/a.yaml": "a: 1\n"})
	commit := repo.Commit("first")[:12]
	src := reconcile.DirSource{Path: repo.Dir}
	co, err := src.Fetch(context.Background())
	if err != nil || co.Commit != commit || co.Uncommitted {
		t.Fatalf("clean checkout: %+v, %v; want %s and no uncommitted changes", co, err, commit)
	}
	if err := os.WriteFile(filepath.Join(repo.Dir, "mesh", "a.yaml"), []byte("a: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if co, err = src.Fetch(context.Background()); err != nil || co.Commit != commit || !co.Uncommitted {
		t.Fatalf("edited checkout: %+v, %v; want %s with uncommitted changes", co, err, commit)
	}
	outside := reconcile.DirSource{Path: t.TempDir()}
	if co, err = outside.Fetch(context.Background()); err != nil || co.Commit != "" || co.Uncommitted {
		t.Fatalf("a folder outside git: %+v, %v", co, err)
	}
}
