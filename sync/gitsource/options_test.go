package gitsource

import (
	"strings"
	"testing"
)

func TestNewRefusesOptionsThatCannotWorkOrWouldLeakOrTrustBlindly(t *testing.T) {
	id := []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no URL", Options{CacheDir: "/c"}, "URL is required"},
		{"no cache folder", Options{URL: "https://h/r.git"}, "CacheDir is required"},
		{"branch and tag", Options{URL: "https://h/r.git", CacheDir: "/c", Branch: "main", Tag: "v1"}, "at most one of Branch"},
		{"short commit", Options{URL: "https://h/r.git", CacheDir: "/c", Commit: "abc123"}, "not a full 40-hex"},
		{"password in the URL", Options{URL: "https://me:pw@h/r.git", CacheDir: "/c"}, "URL carries a password"},
		{"password over plain http", Options{URL: "http://h/r.git", CacheDir: "/c", Auth: Credentials{Username: "me", Password: "pw"}}, "plain http"},
		{"token over plain http", Options{URL: "http://h/r.git", CacheDir: "/c", Auth: Credentials{BearerToken: "t"}}, "plain http"},
		{"ssh identity for an https URL", Options{URL: "https://h/r.git", CacheDir: "/c", Auth: Credentials{Identity: id}}, "SSH identity only"},
		{"ssh without identity", Options{URL: "ssh://git@h/r.git", CacheDir: "/c"}, "needs a private key"},
		{"ssh identity that is no key", Options{URL: "ssh://git@h/r.git", CacheDir: "/c", Auth: Credentials{Identity: id, KnownHosts: []byte("h ssh-ed25519 AAAA\n")}}, "identity"},
		{"unsupported scheme", Options{URL: "ftp://h/r.git", CacheDir: "/c"}, "unsupported URL scheme"},
		{"keyring that is no keyring", Options{URL: "https://h/r.git", CacheDir: "/c", Keyring: "not armored"}, "Keyring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestSSHWithoutKnownHostsIsRefusedUnlessTold(t *testing.T) {
	identity := newSSHKey(t).pem(t, "")
	opts := Options{URL: "git@git.example.com:org/config.git", CacheDir: t.TempDir(), Auth: Credentials{Identity: identity}}
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Errorf("New without known_hosts = %v, want an error naming known_hosts", err)
	}
	opts.InsecureIgnoreHostKey = true
	if _, err := New(opts); err != nil {
		t.Errorf("New with InsecureIgnoreHostKey = %v", err)
	}
	opts.InsecureIgnoreHostKey = false
	opts.Auth.KnownHosts = []byte("this is not a known_hosts line\n")
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Errorf("New with a malformed known_hosts = %v, want an error naming known_hosts", err)
	}
}

func TestDefaultsAreFilledIn(t *testing.T) {
	s, err := New(Options{URL: "https://h/r.git", CacheDir: "/c"})
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultOptions()
	if s.opts.Branch != d.Branch || s.opts.Timeout != d.Timeout || s.opts.Logger == nil || s.pin.String() != "refs/heads/main" {
		t.Errorf("defaults = branch %q timeout %s, want %q %s", s.opts.Branch, s.opts.Timeout, d.Branch, d.Timeout)
	}
}
