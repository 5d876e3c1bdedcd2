package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"

	"github.com/meshops/meshops/ref"
)

// DirSource is a config repo checked out by someone else (by hand, a CI
// job, a git-sync sidecar): Fetch reads it as it is.
type DirSource struct {
	Path string
}

// Fetch returns the folder and its HEAD commit; "" when it is not in git.
func (d DirSource) Fetch(context.Context) (Checkout, error) {
	commit, err := HeadCommit(d.Path)
	if err != nil {
		return Checkout{}, err
	}
	return Checkout{Path: d.Path, Commit: commit}, nil
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
