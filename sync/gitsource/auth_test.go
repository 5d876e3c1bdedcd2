package gitsource

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/gitkit"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestHTTPCredentialsAreSentAndWrongOnesRefused(t *testing.T) {
	up := newUpstream(t, "meshops", "s3cret")
	// gitkit knows basic auth only: let a bearer token stand for the user.
	up.srv.AddHTTPMiddlewares(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer t0ken" {
				r.SetBasicAuth("meshops", "s3cret")
			}
			next.ServeHTTP(w, r)
		})
	})
	if err := up.srv.StartHTTP(); err != nil { // again, with the middleware
		t.Fatal(err)
	}
	byHand := t.TempDir()
	writeFile(t, filepath.Join(byHand, KeyUsername), "meshops\n")
	writeFile(t, filepath.Join(byHand, KeyPassword), "s3cret\n")
	fromDir, err := CredentialsFromDir(byHand)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		creds   Credentials
		refused error
	}{
		{"secret data", CredentialsFromSecretData(map[string][]byte{"username": []byte("meshops"), "password": []byte("s3cret")}), nil},
		{"files by hand", fromDir, nil},
		{"bearer token", CredentialsFromSecretData(map[string][]byte{"bearerToken": []byte("t0ken")}), nil},
		{"wrong password", Credentials{Username: "meshops", Password: "guess"}, transport.ErrAuthenticationRequired},
		{"wrong token", Credentials{BearerToken: "guess"}, transport.ErrAuthenticationRequired},
		{"no credentials", Credentials{}, transport.ErrAuthenticationRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Auth: tc.creds, InsecureHTTP: true})
			art, err := src.Fetch(context.Background())
			if tc.refused == nil {
				if err != nil || readFile(t, art, "config/config.yaml") == "" {
					t.Fatalf("Fetch = %+v, %v; want a checkout", art, err)
				}
				return
			}
			if !errors.Is(err, tc.refused) {
				t.Fatalf("Fetch error = %v, want %v", err, tc.refused)
			}
			if art.Commit != "" || readFile(t, art, "config/config.yaml") != "" {
				t.Errorf("a refused fetch checked something out: %+v", art)
			}
		})
	}
}

func TestRefusedFetchLeavesTheCacheAsItWas(t *testing.T) {
	up := newUpstream(t, "meshops", "s3cret")
	cache := t.TempDir()
	good, _ := newSource(t, Options{URL: up.httpURL(), CacheDir: cache, Auth: Credentials{Username: "meshops", Password: "s3cret"}, InsecureHTTP: true})
	first := fetch(t, good)
	up.commit(map[string]string{"mesh/a.yaml": "kind: A\n"}, nil)
	up.push("main")

	bad, logs := newSource(t, Options{URL: up.httpURL(), CacheDir: cache, Auth: Credentials{Username: "meshops", Password: "revoked"}, InsecureHTTP: true})
	art, err := bad.Fetch(context.Background())
	if !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Fatalf("Fetch with revoked credentials = %v, want authentication required", err)
	}
	if art.Previous != first.Commit || art.Recloned != "" || strings.Contains(logs.String(), "wiping") {
		t.Errorf("refused fetch touched the cache: %+v\n%s", art, logs)
	}
	if readFile(t, first, "config/config.yaml") == "" || readFile(t, first, "mesh/a.yaml") != "" {
		t.Error("the checkout changed although the fetch was refused")
	}
}

func TestSSHChecksTheHostKeyAndUsesTheIdentity(t *testing.T) {
	up := newUpstream(t, "", "")
	client, second, stranger := newSSHKey(t), newSSHKey(t), newSSHKey(t)
	sshURL, hostKey := startSSH(t, up, client.pub, second.pub)
	u, err := url.Parse(sshURL)
	if err != nil {
		t.Fatal(err)
	}
	knownHost := func(host string, key ssh.PublicKey) []byte {
		return []byte(knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(host, u.Port()))}, key) + "\n")
	}
	known := knownHost(u.Hostname(), hostKey)
	identity := client.pem(t, "")

	for _, tc := range []struct {
		name     string
		creds    Credentials
		insecure bool
		refused  string
	}{
		{"known host", Credentials{Identity: identity, KnownHosts: known}, false, ""},
		{"encrypted identity with its passphrase in password", Credentials{Identity: client.pem(t, "passphrase"), Password: "passphrase", KnownHosts: known}, false, ""},
		{"another accepted identity", Credentials{Identity: second.pem(t, ""), KnownHosts: known}, false, ""},
		{"unknown host", Credentials{Identity: identity, KnownHosts: knownHost("git.example.com", hostKey)}, false, "key is unknown"},
		{"changed host key", Credentials{Identity: identity, KnownHosts: knownHost(u.Hostname(), otherRSAKey(t))}, false, "key mismatch"},
		{"host key of another type", Credentials{Identity: identity, KnownHosts: knownHost(u.Hostname(), second.pub)}, false, "no common algorithm"},
		{"unknown host accepted when told to", Credentials{Identity: identity}, true, ""},
		{"identity the server does not accept", Credentials{Identity: stranger.pem(t, ""), KnownHosts: known}, false, "unable to authenticate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newSource(t, Options{URL: sshURL, CacheDir: t.TempDir(), Auth: tc.creds, InsecureIgnoreHostKey: tc.insecure})
			art, err := src.Fetch(context.Background())
			if tc.refused == "" {
				if err != nil || readFile(t, art, "config/config.yaml") == "" {
					t.Fatalf("Fetch = %+v, %v; want a checkout", art, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("Fetch error = %v, want one saying %q", err, tc.refused)
			}
			if art.Commit != "" || readFile(t, art, "config/config.yaml") != "" {
				t.Errorf("a refused fetch checked something out: %+v", art)
			}
		})
	}
}

// startSSH serves the upstream over SSH too, accepting only the given
// client keys, and returns the repo's URL and the server's host key.
func startSSH(t *testing.T, up *upstream, accepted ...ssh.PublicKey) (string, ssh.PublicKey) {
	t.Helper()
	keyDir := t.TempDir()
	up.srv.KeyDir(keyDir).Auth("", "")
	up.srv.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		for _, k := range accepted {
			if strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) == content {
				return &gitkit.PublicKey{Id: "client"}, nil
			}
		}
		return nil, errors.New("unknown client key")
	})
	t.Cleanup(func() {
		up.srv.PublicKeyLookupFunc(func(string) (*gitkit.PublicKey, error) { return &gitkit.PublicKey{Id: "any"}, nil })
	})
	if err := up.srv.ListenSSH(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = up.srv.StartSSH() }()
	t.Cleanup(func() { _ = up.srv.StopSSH() })
	pub, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return up.srv.SSHAddress() + "/" + repoPath, hostKey
}

// otherRSAKey is an RSA key other than the server's, which is RSA too.
func otherRSAKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// sshKey is a client or host key of an SSH test.
type sshKey struct {
	priv ed25519.PrivateKey
	pub  ssh.PublicKey
}

func newSSHKey(t *testing.T) sshKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{priv: priv, pub: signer.PublicKey()}
}

// pem is the private key in OpenSSH PEM form, encrypted when a passphrase
// is given.
func (k sshKey) pem(t *testing.T, passphrase string) []byte {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(k.priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}
