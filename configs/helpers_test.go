package configs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshops/meshops/test/fixtures"
)

// fixtureDir is the ARO HCP fixtures folder (the test skips without it).
func fixtureDir(t testing.TB) string { return fixtures.AROHCPDir(t) }

// writeFiles creates files (slash paths → content) under a new temp dir.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeInto(t, dir, files)
	return dir
}

// writeInto writes files (slash paths → content) below dir.
func writeInto(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func problemStrings(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
