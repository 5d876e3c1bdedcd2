package gitsource

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshops/meshops/configs"
)

func TestArtifactPathLoadsAsAConfigRepo(t *testing.T) {
	example := filepath.Join("..", "..", "configs", "examples", "aro-hcp-dev")
	files := map[string]string{}
	err := filepath.WalkDir(example, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(example, path)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, "", "")
	up.commit(files, nil)
	up.push("main")
	src, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Shallow: true})
	art := fetch(t, src)

	opts := configs.DefaultOptions()
	opts.RepoPath = art.Path
	c, err := configs.Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("configs.Load(%s) = %v", art.Path, err)
	}
	if c.Istio.Target.Name != "asm-1-29" || len(c.Manifests) == 0 {
		t.Errorf("loaded %d manifests, target %q; want the example's (asm-1-29)", len(c.Manifests), c.Istio.Target.Name)
	}
}
