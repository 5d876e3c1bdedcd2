package gitsource

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Options say which repo and revision to follow and where to keep it.
type Options struct {
	// URL of the remote: https://…, http://… or ssh://… (or scp-like
	// git@host:path). Credentials belong in Auth; a password in the URL
	// is refused. A token as its username (https://ghp_…@github.com/…)
	// or in its query is used to fetch but never stored or printed: logs,
	// errors and the cache's git config hold redact.URL(URL). Required.
	URL string

	// Branch to track. Default "main" when none of Branch, Tag and Commit
	// is set. At most one of the three may be set.
	Branch string
	// Tag pins a tag (lightweight or annotated). A tag that moves on the
	// remote is followed and logged as a force push.
	Tag string
	// Commit pins a full 40-hex commit hash. Once the commit is in the
	// cache, Fetch serves it without contacting the remote.
	Commit string

	// CacheDir is the folder the repo is cloned into once and fetched into
	// afterwards; the checkout lives in CacheDir/repo, which gitsource owns
	// and may wipe. It should survive restarts (a volume) to avoid cloning
	// again. Required.
	CacheDir string

	// Auth holds the credentials (see CredentialsFromSecretData and
	// CredentialsFromDir). Default: none (public repo).
	Auth Credentials
	// InsecureIgnoreHostKey accepts any SSH host key. Default false: an
	// SSH URL needs known_hosts in Auth, and an unknown or changed host key
	// is refused.
	InsecureIgnoreHostKey bool
	// InsecureHTTP allows sending credentials over plain http:// URLs.
	// Default false: credentials go over https:// or ssh:// only.
	InsecureHTTP bool

	// Shallow makes the first clone fetch only the tip commit (depth 1)
	// instead of the whole history. Later fetches are incremental
	// without a depth limit, so the history from the first clone on is
	// complete and force pushes are still told apart from fast-forwards.
	// Ignored when Commit is pinned (a commit can only be found in the
	// history). Default false.
	Shallow bool

	// Timeout bounds one Fetch, network and checkout included.
	// Default 60s.
	Timeout time.Duration

	// Keyring, when set, holds armored OpenPGP public keys; Fetch then
	// refuses a head commit that is unsigned or not signed by one of them
	// (ErrUnverified), and leaves the checkout where it was. Only OpenPGP
	// signatures are understood (not SSH or X.509 signatures). Default:
	// no verification.
	Keyring string

	// Logger receives what Fetch does (clone, new commit, force push,
	// cache wiped), with the stable keys url, ref, commit, previous,
	// reason and dir. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultBranch  = "main"
	DefaultTimeout = 60 * time.Second
)

// DefaultOptions returns the options with every default filled in; URL and
// CacheDir are still to be set.
func DefaultOptions() Options {
	return Options{Branch: DefaultBranch, Timeout: DefaultTimeout, Logger: slog.Default()}
}

// withDefaults fills in zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		return o, errors.New("git source: URL is required")
	}
	if o.CacheDir == "" {
		return o, errors.New("git source: CacheDir is required")
	}
	set := 0
	for _, v := range []string{o.Branch, o.Tag, o.Commit} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return o, fmt.Errorf("git source: set at most one of Branch (%q), Tag (%q) and Commit (%q)", o.Branch, o.Tag, o.Commit)
	}
	if set == 0 {
		o.Branch = DefaultBranch
	}
	if o.Commit != "" && !plumbing.IsHash(o.Commit) {
		return o, fmt.Errorf("git source: Commit %q is not a full 40-hex commit hash", o.Commit)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}
