package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Key names of the credentials, the same as in Flux's GitRepository Secrets
// so that an existing Secret carries over unchanged.
const (
	KeyUsername    = "username"
	KeyPassword    = "password"
	KeyBearerToken = "bearerToken"
	KeyIdentity    = "identity"
	KeyKnownHosts  = "known_hosts"
)

// Credentials authenticate to the remote. Which fields are used depends on
// the URL's scheme:
//
//   - https (and http with Options.InsecureHTTP): BearerToken, else
//     Username and Password as basic auth (for GitHub and most hosts, a
//     token goes in Password with any Username).
//   - ssh: Identity (a PEM private key; Password is its passphrase, as in
//     Flux) and KnownHosts (known_hosts lines for the server). The SSH user
//     is the URL's, else Username, else "git".
//
// Their String and LogValue never show a secret.
type Credentials struct {
	Username    string
	Password    string
	BearerToken string
	Identity    []byte
	KnownHosts  []byte
}

// CredentialsFromSecretData reads credentials from a Kubernetes Secret's
// data, keyed as in Flux (username, password, bearerToken, identity,
// known_hosts). Other keys are ignored; trailing line breaks of username,
// password and bearerToken are dropped (files written with echo have one).
func CredentialsFromSecretData(data map[string][]byte) Credentials {
	line := func(k string) string { return strings.TrimRight(string(data[k]), "\r\n") }
	return Credentials{
		Username:    line(KeyUsername),
		Password:    line(KeyPassword),
		BearerToken: line(KeyBearerToken),
		Identity:    data[KeyIdentity],
		KnownHosts:  data[KeyKnownHosts],
	}
}

// CredentialsFromDir reads credentials from a folder holding one file per
// key (username, password, bearerToken, identity, known_hosts): a mounted
// Secret, or files written by hand. Missing files are left empty; a folder
// that does not exist or an unreadable file is an error.
func CredentialsFromDir(dir string) (Credentials, error) {
	if info, err := os.Stat(dir); err != nil {
		return Credentials{}, fmt.Errorf("git credentials: %w", err)
	} else if !info.IsDir() {
		return Credentials{}, fmt.Errorf("git credentials %s: not a folder", dir)
	}
	data := map[string][]byte{}
	for _, k := range []string{KeyUsername, KeyPassword, KeyBearerToken, KeyIdentity, KeyKnownHosts} {
		b, err := os.ReadFile(filepath.Join(dir, k))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Credentials{}, fmt.Errorf("git credentials: %w", err)
		}
		data[k] = b
	}
	return CredentialsFromSecretData(data), nil
}

// String names the keys that are set, never their values (except the
// username, which is no secret).
func (c Credentials) String() string {
	var parts []string
	if c.Username != "" {
		parts = append(parts, KeyUsername+"="+c.Username)
	}
	for _, k := range []struct {
		name string
		set  bool
	}{
		{KeyPassword, c.Password != ""},
		{KeyBearerToken, c.BearerToken != ""},
		{KeyIdentity, len(c.Identity) > 0},
		{KeyKnownHosts, len(c.KnownHosts) > 0},
	} {
		if k.set {
			parts = append(parts, k.name+"=(set)")
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// GoString keeps %#v from printing secrets.
func (c Credentials) GoString() string { return "gitsource.Credentials{" + c.String() + "}" }

// LogValue keeps slog from printing secrets.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }
