package configs

import (
	"os"
	"path/filepath"
	"testing"
)

// fixtureDir finds shared/fixtures/aro-hcp by walking up from the package
// folder: in CI the clone has a copy of shared/ beside it (or above it), so
// no fixed relative path is right everywhere.
func fixtureDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared", "fixtures", "aro-hcp")
		if info, err := os.Stat(candidate); err == nil && info.IsDir() {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/fixtures/aro-hcp not found in any parent folder of the package: the ARO HCP fixture tests need a copy of shared/ beside the clone")
		}
		dir = parent
	}
}

// writeFiles creates files (slash paths → content) under a new temp dir.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func problemStrings(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
