package gitsource

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// ErrUnverified is wrapped by the error Fetch returns for a head commit
// that is unsigned or not signed by a key of Options.Keyring.
var ErrUnverified = errors.New("commit signature not verified")

func checkKeyring(armored string) error {
	if armored == "" {
		return nil
	}
	keys, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil {
		return fmt.Errorf("git source: Keyring: %w", err)
	}
	if len(keys) == 0 {
		return errors.New("git source: Keyring holds no key")
	}
	return nil
}

// verify returns the fingerprint of the keyring's key that signed the
// commit.
func (s *Source) verify(repo *git.Repository, h plumbing.Hash) (string, error) {
	c, err := repo.CommitObject(h)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", h, err)
	}
	if c.PGPSignature == "" {
		s.log.Warn("refusing an unsigned commit", "commit", h.String())
		return "", fmt.Errorf("commit %s: %w: it is not signed", h, ErrUnverified)
	}
	signer, err := c.Verify(s.opts.Keyring)
	if err != nil {
		s.log.Warn("refusing a commit not signed by the keyring", "commit", h.String(), "reason", err.Error())
		return "", fmt.Errorf("commit %s: %w: %w", h, ErrUnverified, err)
	}
	return fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint), nil
}
