package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"

	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/sync/gitsource"
)

// DirSource is a config repo checked out by someone else (by hand, a CI
// job, a git-sync sidecar): Fetch reads it as it is.
type DirSource struct {
	Path string
}

// Fetch returns the folder, its HEAD commit ("" when it is not in git)
// and whether the working tree holds uncommitted changes.
func (d DirSource) Fetch(context.Context) (Checkout, error) {
	commit, err := HeadCommit(d.Path)
	if err != nil || commit == "" {
		return Checkout{Path: d.Path, Commit: commit}, err
	}
	dirty, err := uncommitted(d.Path)
	if err != nil {
		return Checkout{}, err
	}
	return Checkout{Path: d.Path, Commit: commit, Uncommitted: dirty}, nil
}

// uncommitted reports whether the work tree holding path differs from its
// HEAD (changed, added or deleted files, untracked ones included).
func uncommitted(path string) (bool, error) {
	repo, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return false, fmt.Errorf("opening the git repository at %s: %w", path, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	st, err := wt.Status()
	if err != nil {
		return false, fmt.Errorf("reading the status of %s: %w", path, err)
	}
	return !st.IsClean(), nil
}

// HeadCommit is the short HEAD commit of the git work tree holding path,
// "" when path is in no git repository.
func HeadCommit(path string) (string, error) {
	repo, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("opening the git repository at %s: %w", path, err)
	}
	head, err := repo.Head()
	if err != nil {
		return "", fmt.Errorf("reading HEAD of %s: %w", path, err)
	}
	return ref.ShortCommit(head.Hash().String()), nil
}

// GitSource follows a git remote (sync/gitsource). When the remote cannot
// be reached, or its head is refused (a bad signature), it hands out the
// last commit fetched, marked Stale, so enforcement goes on from it.
type GitSource struct{ *gitsource.Source }

// Fetch fetches the newest commit, or falls back to the last one.
func (g GitSource) Fetch(ctx context.Context) (Checkout, error) {
	art, err := g.Source.Fetch(ctx)
	if err == nil {
		return Checkout{Path: art.Path, Commit: ref.ShortCommit(art.Commit)}, nil
	}
	if art.Previous != "" && art.Recloned == "" && art.Path != "" {
		return Checkout{Path: art.Path, Commit: ref.ShortCommit(art.Previous), Stale: err}, nil
	}
	return Checkout{}, err
}
