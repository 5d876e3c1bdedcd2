package gitsource

import (
	"errors"
	"fmt"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// pin is the one revision a Source follows: a branch, a tag or a commit.
type pin struct {
	branch, tag string
	commit      plumbing.Hash
}

func newPin(o Options) pin {
	switch {
	case o.Tag != "":
		return pin{tag: o.Tag}
	case o.Commit != "":
		return pin{commit: plumbing.NewHash(o.Commit)}
	}
	return pin{branch: o.Branch}
}

// String is the full ref name followed, or the pinned commit.
func (p pin) String() string {
	switch {
	case p.branch != "":
		return plumbing.NewBranchReferenceName(p.branch).String()
	case p.tag != "":
		return plumbing.NewTagReferenceName(p.tag).String()
	}
	return p.commit.String()
}

// localRef is where the fetch stores the remote's ref; "" for a commit.
func (p pin) localRef() plumbing.ReferenceName {
	switch {
	case p.branch != "":
		return plumbing.NewRemoteReferenceName(git.DefaultRemoteName, p.branch)
	case p.tag != "":
		return plumbing.NewTagReferenceName(p.tag)
	}
	return ""
}

// refSpecs fetch only what the pin needs: one branch or one tag; for a
// commit, every branch and tag, since a server hands out commits by ref.
func (p pin) refSpecs() []config.RefSpec {
	if p.branch != "" || p.tag != "" {
		return []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", p, p.localRef()))}
	}
	return []config.RefSpec{
		config.RefSpec(fmt.Sprintf("+refs/heads/*:refs/remotes/%s/*", git.DefaultRemoteName)),
		"+refs/tags/*:refs/tags/*",
	}
}

// errNotFetched says the pinned ref or commit is not in the cache after a
// fetch.
var errNotFetched = errors.New("not found in the fetched branches and tags")

// resolve returns the commit the pin names in the cache, peeling
// annotated tags.
func (p pin) resolve(repo *git.Repository) (plumbing.Hash, error) {
	if p.localRef() == "" {
		if _, err := repo.CommitObject(p.commit); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("commit %s: %w", p.commit, errNotFetched)
		}
		return p.commit, nil
	}
	ref, err := repo.Reference(p.localRef(), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, fmt.Errorf("%s: %w", p, errNotFetched)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s: %w", p, err)
	}
	h := ref.Hash()
	if tag, err := repo.TagObject(h); err == nil {
		c, err := tag.Commit()
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s: annotated tag does not point at a commit: %w", p, err)
		}
		return c.Hash, nil
	}
	return h, nil
}
