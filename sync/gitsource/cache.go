package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	gitcache "github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/meshops/meshops/redact"
)

// corruptError marks a failure that wiping the cache and cloning again
// should cure.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

// cache is the opened repo of the cache folder. Its storage keeps pack
// files open between object reads (go-git reopens them per object
// otherwise, which dominates a no-change fetch), so it must be closed.
type cache struct {
	*git.Repository
	storage *filesystem.Storage
}

func (c *cache) Close() {
	if c != nil {
		_ = c.storage.Close()
	}
}

func openCache(dir string, create bool) (*cache, error) {
	if !create {
		if _, err := os.Stat(filepath.Join(dir, git.GitDirName)); errors.Is(err, fs.ErrNotExist) {
			return nil, git.ErrRepositoryNotExists
		}
	}
	wt := osfs.New(dir)
	dot, err := wt.Chroot(git.GitDirName)
	if err != nil {
		return nil, err
	}
	st := filesystem.NewStorageWithOptions(dot, gitcache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	var repo *git.Repository
	if create {
		repo, err = git.Init(st, wt)
	} else {
		repo, err = git.Open(st, wt)
	}
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &cache{Repository: repo, storage: st}, nil
}

// open returns the cached repo, or a new empty one with origin set when
// there is none or the cached one cannot be used (wiped first, with the
// reason in art.Recloned). fresh reports that nothing is checked out yet.
func (s *Source) open(art *Artifact) (repo *cache, fresh bool, err error) {
	repo, err = openCache(s.dir, false)
	reason := ""
	switch {
	case errors.Is(err, git.ErrRepositoryNotExists):
		entries, rerr := os.ReadDir(s.dir)
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("git cache %s: %w", s.dir, rerr)
		}
		if len(entries) > 0 {
			reason = "not a git repository"
		}
	case err != nil:
		reason = "corrupt cache: " + err.Error()
	default:
		head, herr := headCommit(repo.Repository)
		if herr != nil {
			reason = "corrupt cache: " + herr.Error()
			break
		}
		if !head.IsZero() {
			art.Previous = head.String()
		}
		// A cache written before URLs were stored without credentials
		// differs too, and is recloned: that removes the credential from
		// the disk.
		if u := originURL(repo.Repository); u != s.display {
			reason = fmt.Sprintf("remote URL changed from %q to %q", redact.URL(u), s.display)
			break
		}
		return repo, head.IsZero(), nil
	}
	repo.Close()
	if reason != "" {
		art.Recloned = reason
		if err := s.wipe(reason); err != nil {
			return nil, false, err
		}
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("git cache %s: %w", s.dir, err)
	}
	repo, err = openCache(s.dir, true)
	if err != nil {
		return nil, false, fmt.Errorf("git cache %s: %w", s.dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{s.display}}); err != nil {
		repo.Close()
		return nil, false, fmt.Errorf("git cache %s: %w", s.dir, err)
	}
	return repo, true, nil
}

func (s *Source) wipe(reason string) error {
	s.log.Warn("wiping the git cache and cloning again", "reason", reason, "dir", s.dir)
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("wipe git cache %s: %w", s.dir, err)
	}
	return nil
}

// headCommit returns the checked-out commit after reading it and its root
// tree; zero when nothing is checked out yet.
func headCommit(repo *git.Repository) (plumbing.Hash, error) {
	ref, err := repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("HEAD: %w", err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("HEAD %s: %w", ref.Hash(), err)
	}
	if _, err := c.Tree(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("HEAD %s tree: %w", ref.Hash(), err)
	}
	return ref.Hash(), nil
}

func originURL(repo *git.Repository) string {
	r, err := repo.Remote(git.DefaultRemoteName)
	if err != nil || len(r.Config().URLs) == 0 {
		return ""
	}
	return r.Config().URLs[0]
}

// readable reports whether every ref of the cache leads to an object that
// can be read, which is what a fetch needs to tell the server what it has.
func readable(repo *git.Repository) bool {
	refs, err := repo.References()
	if err != nil {
		return false
	}
	ok := true
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference {
			return nil
		}
		if _, err := object.GetObject(repo.Storer, r.Hash()); err != nil {
			ok = false
		}
		return nil
	})
	return ok
}

func isShallow(repo *git.Repository) bool {
	s, err := repo.Storer.Shallow()
	return err == nil && len(s) > 0
}
