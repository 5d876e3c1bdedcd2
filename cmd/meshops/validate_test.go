package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestValidateExitsZeroOnTheBundledExampleRepo(t *testing.T) {
	if code := run([]string{"validate", "--repo-path", "../../configs/examples/aro-hcp-dev"}); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func TestValidateExitsOneOnABrokenRepo(t *testing.T) {
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "mesh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "mesh", "bad.yaml"), []byte("kind: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"validate", "--repo-path", repo}); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}
