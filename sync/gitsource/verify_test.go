package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestKeyringAcceptsCommitsSignedByItsKeysOnly(t *testing.T) {
	trusted, alsoTrusted, stranger := newPGPKey(t, "trusted"), newPGPKey(t, "also"), newPGPKey(t, "stranger")
	up := newUpstream(t, "", "")
	signed := up.commit(map[string]string{"mesh/a.yaml": "kind: Signed\n"}, trusted)
	up.push("main")
	src, logs := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Keyring: armoredPublicKeys(t, trusted, alsoTrusted)})

	art := fetch(t, src)
	if art.Commit != signed.String() || art.SignedBy != fingerprint(trusted) {
		t.Fatalf("fetch of a signed commit = %+v, want %s signed by %s", art, signed, fingerprint(trusted))
	}

	for _, tc := range []struct {
		name string
		key  *openpgp.Entity
	}{
		{"unsigned", nil},
		{"signed by a key outside the keyring", stranger},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused := up.commit(map[string]string{"mesh/a.yaml": "kind: " + tc.name + "\n"}, tc.key)
			up.push("main")
			for range 2 { // refused again on the next poll, not slipped through
				art, err := src.Fetch(context.Background())
				if !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), refused.String()) {
					t.Fatalf("Fetch = %v, want ErrUnverified naming %s", err, refused)
				}
				if art.Commit != "" || art.Previous != signed.String() {
					t.Errorf("refused fetch returned %+v", art)
				}
			}
			if got := readFile(t, Artifact{Path: src.dir}, "mesh/a.yaml"); got != "kind: Signed\n" {
				t.Errorf("the refused commit was checked out: mesh/a.yaml = %q", got)
			}
		})
	}
	wantLog(t, logs, "refusing an unsigned commit")
	wantLog(t, logs, "refusing a commit not signed by the keyring")

	again := up.commit(map[string]string{"mesh/a.yaml": "kind: SignedAgain\n"}, alsoTrusted)
	up.push("main")
	art = fetch(t, src)
	if art.Commit != again.String() || art.SignedBy != fingerprint(alsoTrusted) || readFile(t, art, "mesh/a.yaml") != "kind: SignedAgain\n" {
		t.Errorf("fetch of a commit signed by the keyring's second key = %+v", art)
	}
}

func newPGPKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func armoredPublicKeys(t *testing.T, keys ...*openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := k.Serialize(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func fingerprint(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }
