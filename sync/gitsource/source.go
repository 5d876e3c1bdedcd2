package gitsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/meshops/meshops/redact"
)

// Artifact is the result of one Fetch: a checkout of one commit.
//
// On error only Ref, Previous and Recloned are meaningful. When Previous
// is set and nothing was recloned, Path still holds the checkout of
// Previous, untouched (remote errors and refused signatures leave the
// cache as it is): the last commit fetched, which the engine may keep
// enforcing. Otherwise Path holds nothing to apply.
type Artifact struct {
	// Path is the working tree of Commit, to be read with configs.Load
	// (as RepoPath). It is CacheDir/repo and stays as it is until the
	// next Fetch of the same Source; do not write to it.
	Path string
	// Commit is the full hash of the checked-out commit.
	Commit string
	// Ref is what is followed: refs/heads/<branch>, refs/tags/<tag> or
	// the pinned commit.
	Ref string
	// Previous is the commit the cache had checked out before this Fetch;
	// "" when it had none (first clone, or an unreadable cache). The cache
	// is on disk, so this survives restarts when CacheDir does.
	Previous string
	// Changed reports Commit != Previous. It compares with the cache, not
	// with what was applied: the loop decides what to apply from its own
	// record of the last applied commit.
	Changed bool
	// ForcePushed reports that the branch moved to a commit that does not
	// descend from where it was at the previous fetch, or that the tag was
	// moved. The checkout follows the remote either way.
	ForcePushed bool
	// Recloned says why the cache was wiped and cloned again during this
	// Fetch ("" when it was not): "corrupt cache: …", "remote URL changed
	// from … to …", "not a git repository".
	Recloned string
	// SignedBy is the fingerprint (upper-case hex) of the primary key that
	// signed Commit; set only when Options.Keyring is.
	SignedBy string
}

// Source follows one remote revision into a cache folder. Its methods are
// safe for concurrent use; Fetch calls run one at a time.
type Source struct {
	opts Options
	// display is Options.URL without credentials (redact.URL): what logs,
	// errors and the cache's own git config hold. Only the transport sees
	// Options.URL.
	display string
	pin     pin
	auth    transport.AuthMethod
	dir     string
	log     *slog.Logger

	mu sync.Mutex
}

// New checks the options (defaults filled in), builds the auth method and
// parses the keyring. It does no network or disk I/O beyond that:
// the first Fetch clones.
func New(opts Options) (*Source, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	auth, err := authMethod(opts)
	if err != nil {
		return nil, err
	}
	if err := checkKeyring(opts.Keyring); err != nil {
		return nil, err
	}
	p := newPin(opts)
	display := redact.URL(opts.URL)
	return &Source{
		opts:    opts,
		display: display,
		pin:     p,
		auth:    auth,
		dir:     filepath.Join(opts.CacheDir, "repo"),
		log:     opts.Logger.With("url", display, "ref", p.String()),
	}, nil
}

// Fetch brings the cache up to the remote's revision and checks it out.
//
// It clones on the first call (or when the cache is gone), fetches
// afterwards, and resets the working tree to the fetched commit every
// time, so that stray edits in the cache do not survive. A cache that is
// unreadable or whose remote URL differs from Options.URL is wiped and
// cloned again; so is one that fails to fetch or check out while its
// objects are damaged. Errors of the remote (network, auth, missing ref)
// leave the cache as it is.
//
// With a Keyring, a head commit not signed by one of its keys fails with
// ErrUnverified and the checkout stays on the previous commit.
func (s *Source) Fetch(ctx context.Context) (Artifact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	art := Artifact{Path: s.dir, Ref: s.pin.String()}
	err := s.fetch(ctx, &art)
	var corrupt *corruptError
	if errors.As(err, &corrupt) {
		art.Recloned = "corrupt cache: " + corrupt.Error()
		if err := s.wipe(art.Recloned); err != nil {
			return art, err
		}
		err = s.fetch(ctx, &art)
		if errors.As(err, &corrupt) {
			err = corrupt.err
		}
	}
	return art, err
}

func (s *Source) fetch(ctx context.Context, art *Artifact) error {
	c, fresh, err := s.open(art)
	if err != nil {
		return err
	}
	defer c.Close()
	repo := c.Repository
	before, _ := s.pin.resolve(repo)
	if err := s.download(ctx, repo, fresh); err != nil {
		return err
	}
	target, err := s.pin.resolve(repo)
	if err != nil {
		if errors.Is(err, errNotFetched) && isShallow(repo) {
			// A clone cut at depth 1 cannot reach an older pinned commit.
			return &corruptError{fmt.Errorf("shallow cache lacks %w", err)}
		}
		return fmt.Errorf("%s: %w", s.display, err)
	}
	if !before.IsZero() && before != target {
		art.ForcePushed = s.forced(repo, before, target)
	}
	if s.opts.Keyring != "" {
		if art.SignedBy, err = s.verify(repo, target); err != nil {
			return err
		}
	}
	if err := checkout(repo, target); err != nil {
		return &corruptError{fmt.Errorf("check out %s: %w", target, err)}
	}
	art.Commit = target.String()
	art.Changed = art.Commit != art.Previous
	switch {
	case art.Previous == "":
		s.log.Info("cloned", "commit", art.Commit, "dir", s.dir)
	case art.Changed:
		s.log.Info("fetched a new commit", "commit", art.Commit, "previous", art.Previous)
	default:
		s.log.Debug("no new commit", "commit", art.Commit)
	}
	return nil
}

// download fetches what the pin needs. A pinned commit already in the
// cache needs nothing.
func (s *Source) download(ctx context.Context, repo *git.Repository, fresh bool) error {
	if s.pin.localRef() == "" && !fresh {
		if _, err := repo.CommitObject(s.pin.commit); err == nil {
			return nil
		}
	}
	opts := &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		// The cache's config holds the URL without credentials.
		RemoteURL: s.opts.URL,
		RefSpecs:  s.pin.refSpecs(),
		Auth:      s.auth,
		Tags:      git.NoTags,
	}
	if fresh && s.opts.Shallow && s.pin.localRef() != "" {
		opts.Depth = 1
	}
	err := repo.FetchContext(ctx, opts)
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	// go-git's errors can quote the URL it fetched, credentials and all.
	err = fmt.Errorf("fetch %s from %s: %w", s.pin, s.display, redact.Error(err))
	if !fresh && ctx.Err() == nil && !readable(repo) {
		return &corruptError{err}
	}
	return err
}

// forced tells a force push (or a moved tag) from a fast-forward, and logs
// it: the branch was force-pushed when its previous commit is not in the
// history of the new one.
func (s *Source) forced(repo *git.Repository, before, after plumbing.Hash) bool {
	if s.pin.tag != "" {
		s.log.Warn("tag moved; following it", "commit", after.String(), "previous", before.String())
		return true
	}
	if reaches(repo, after, before) {
		return false
	}
	s.log.Warn("force push: the branch no longer descends from the previous fetch; resetting to the remote",
		"commit", after.String(), "previous", before.String())
	return true
}

// reaches reports whether ancestor is in from's history as far as the
// cache holds it. Parents missing from a shallow cache end the walk there
// instead of failing it: incremental fetches bring every commit between
// the previous tip and the new one, so a fast-forward is always found.
func reaches(repo *git.Repository, from, ancestor plumbing.Hash) bool {
	seen := map[plumbing.Hash]bool{from: true}
	queue := []plumbing.Hash{from}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == ancestor {
			return true
		}
		c, err := repo.CommitObject(h)
		if err != nil {
			continue
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false
}

// checkout detaches HEAD at target and makes the index and working tree
// match it exactly (go-git's hard reset also removes untracked files).
func checkout(repo *git.Repository, target plumbing.Hash) error {
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, target)); err != nil {
		return err
	}
	return wt.Reset(&git.ResetOptions{Commit: target, Mode: git.HardReset})
}
