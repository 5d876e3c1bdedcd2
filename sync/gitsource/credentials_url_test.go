package gitsource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A token in the URL (as its username, the way GitHub accepts one, or as a
// query parameter) is used to fetch but never stored or printed: the log,
// the errors and the cache's git config hold the URL without it.
func TestURLCredentialsAreNeitherStoredNorPrinted(t *testing.T) {
	const token = "ghp_0123456789abcdefABCDEF0123456789abcd"
	up := newUpstream(t, "", "")
	withUser := strings.Replace(up.httpURL(), "http://", "http://"+token+"@", 1)

	s, logs := newSource(t, Options{URL: withUser, CacheDir: t.TempDir()})
	art := fetch(t, s)
	if readFile(t, art, "config/config.yaml") == "" {
		t.Fatal("nothing checked out")
	}
	gitConfig, err := os.ReadFile(filepath.Join(art.Path, ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"log": logs.String(), ".git/config": string(gitConfig)} {
		if strings.Contains(text, token) {
			t.Errorf("the %s holds the token:\n%s", name, text)
		}
	}
	wantLog(t, logs, strings.TrimPrefix(up.httpURL(), "http://"))
	// A second fetch reuses the cache: the stored URL is the one compared.
	if art := fetch(t, s); art.Recloned != "" {
		t.Errorf("second fetch recloned: %s", art.Recloned)
	}

	withQuery := up.httpURL() + "?access_token=planted-query-token"
	s, logs = newSource(t, Options{URL: withQuery, CacheDir: t.TempDir()})
	_, err = s.Fetch(context.Background())
	if err == nil {
		t.Fatal("go-git fetched a URL with a query; the test needs its error")
	}
	for name, text := range map[string]string{"log": logs.String(), "error": err.Error()} {
		if strings.Contains(text, "planted-query-token") {
			t.Errorf("the %s holds the query token: %s", name, text)
		}
	}
	if !strings.Contains(err.Error(), "access_token=") {
		t.Errorf("the error no longer says which URL failed: %v", err)
	}
}
