package gitsource

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialsFromSecretDataUseFluxKeyNames(t *testing.T) {
	got := CredentialsFromSecretData(map[string][]byte{
		"username":    []byte("git\n"),
		"password":    []byte("pw\r\n"),
		"bearerToken": []byte("tok\n"),
		"identity":    []byte("KEY\n"),
		"known_hosts": []byte("h ssh-ed25519 AAAA\n"),
		"ca.crt":      []byte("ignored"),
	})
	want := Credentials{Username: "git", Password: "pw", BearerToken: "tok", Identity: []byte("KEY\n"), KnownHosts: []byte("h ssh-ed25519 AAAA\n")}
	if got.Username != want.Username || got.Password != want.Password || got.BearerToken != want.BearerToken ||
		!bytes.Equal(got.Identity, want.Identity) || !bytes.Equal(got.KnownHosts, want.KnownHosts) {
		t.Errorf("CredentialsFromSecretData = %#v, want %#v", got, want)
	}
}

func TestCredentialsFromDirReadsTheFilesThatExist(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bearerToken"), "tok\n")
	writeFile(t, filepath.Join(dir, "known_hosts"), "h ssh-ed25519 AAAA\n")
	got, err := CredentialsFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.BearerToken != "tok" || string(got.KnownHosts) != "h ssh-ed25519 AAAA\n" || got.Username != "" || got.Identity != nil {
		t.Errorf("CredentialsFromDir = %+v", got)
	}
	if _, err := CredentialsFromDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("CredentialsFromDir of a missing folder succeeded")
	}
	if _, err := CredentialsFromDir(filepath.Join(dir, "bearerToken")); err == nil {
		t.Error("CredentialsFromDir of a file succeeded")
	}
}

func TestCredentialsNeverPrintTheirSecrets(t *testing.T) {
	c := Credentials{Username: "git", Password: "pw-SECRET", BearerToken: "tok-SECRET", Identity: []byte("id-SECRET"), KnownHosts: []byte("kh")}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("creds", "auth", c)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("creds", "auth", c)
	for _, out := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), logged.String()} {
		if strings.Contains(out, "SECRET") {
			t.Errorf("a secret leaked: %s", out)
		}
	}
	if want := "username=git password=(set) bearerToken=(set) identity=(set) known_hosts=(set)"; c.String() != want {
		t.Errorf("String = %q, want %q", c.String(), want)
	}
}
