package configs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	meshref "github.com/meshops/meshops/ref"
)

// LoadGitRef loads the config as it is at a git ref (a branch, a remote
// branch such as origin/main, a tag, a commit, HEAD~1) of the repository
// that holds opts.RepoPath, without touching the work tree: what a pull
// request is compared against. It returns the config, the commit the ref
// resolved to (12 hex digits), and Load's error (a Problems when the config
// at that ref has problems; the Config is then returned too).
//
// Only the files Load reads are written out, to a temporary folder removed
// before returning: meshops.yaml first, then the values file and the
// manifests folder it names. A values file (or overlay) given as an absolute path is
// outside the repository and read as it is on disk now.
func LoadGitRef(ctx context.Context, opts Options, ref string) (*Config, string, error) {
	if opts.RepoPath == "" {
		opts.RepoPath = "."
	}
	if opts.SettingsFile == "" {
		opts.SettingsFile = DefaultSettingsFile
	}
	tree, commit, err := treeAt(opts.RepoPath, ref)
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "meshops-base-")
	if err != nil {
		return nil, "", fmt.Errorf("loading the config at %s: %w", ref, err)
	}
	defer os.RemoveAll(dir)

	local := opts
	local.RepoPath = dir
	if err := writeTree(tree, opts.SettingsFile, dir); err != nil {
		return nil, "", fmt.Errorf("loading the config at %s: %w", ref, err)
	}
	// The first load only resolves the settings, which say where the
	// values and manifests are; its problems about them are expected.
	first, err := Load(ctx, local)
	var probs Problems
	if err != nil && !errors.As(err, &probs) {
		return nil, "", fmt.Errorf("loading the config at %s: %w", ref, err)
	}
	for _, p := range append(slices.Clone(first.Settings.Values), first.Settings.Manifests) {
		if filepath.IsAbs(p) {
			continue
		}
		if err := writeTree(tree, p, dir); err != nil {
			return nil, "", fmt.Errorf("loading the config at %s: %w", ref, err)
		}
	}
	cfg, err := Load(ctx, local)
	if cfg != nil {
		cfg.RepoPath = opts.RepoPath
	}
	if err != nil && !errors.As(err, &probs) {
		return nil, "", fmt.Errorf("loading the config at %s: %w", ref, err)
	}
	return cfg, commit, err
}

// treeAt resolves ref in the repository holding repoPath and returns the
// tree of repoPath's folder at that commit.
func treeAt(repoPath, ref string) (*object.Tree, string, error) {
	repo, err := git.PlainOpenWithOptions(repoPath, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, "", fmt.Errorf("opening the git repository at %s: %w", repoPath, err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		return nil, "", fmt.Errorf("resolving %s in %s: %w (in a CI checkout, fetch the base branch: fetch-depth: 0)", ref, repoPath, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return nil, "", fmt.Errorf("reading commit %s (%s): %w", ref, hash, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, "", fmt.Errorf("reading the tree of %s (%s): %w", ref, hash, err)
	}
	short := meshref.ShortCommit(hash.String())
	wt, err := repo.Worktree()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", repoPath, err)
	}
	sub, err := subfolder(wt.Filesystem.Root(), repoPath)
	if err != nil {
		return nil, "", err
	}
	if sub == "." {
		return tree, short, nil
	}
	subtree, err := tree.Tree(sub)
	if err != nil {
		return nil, "", fmt.Errorf("%s at %s (%s): %w", sub, ref, short, err)
	}
	return subtree, short, nil
}

// subfolder is dir relative to the work tree root, slash-separated.
func subfolder(root, dir string) (string, error) {
	real := func(p string) (string, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		return filepath.EvalSymlinks(abs)
	}
	r, err := real(root)
	if err != nil {
		return "", err
	}
	d, err := real(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r, d)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is not inside the git work tree %s", dir, root)
	}
	return filepath.ToSlash(rel), nil
}

// writeTree writes the file or folder at p (relative to the tree) below
// dir; nothing when the tree has no such path. Symbolic links and
// submodules are skipped: they may point outside the commit.
func writeTree(tree *object.Tree, p, dir string) error {
	p = path.Clean(filepath.ToSlash(p))
	if !filepath.IsLocal(filepath.FromSlash(p)) {
		return fmt.Errorf("%s is outside the config repo, so its version at a git ref is unknown; keep it inside the repo", p)
	}
	sub, prefix := tree, ""
	if p != "." {
		entry, err := tree.FindEntry(p)
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if entry.Mode != filemode.Dir {
			if entry.Mode != filemode.Regular && entry.Mode != filemode.Executable {
				return nil
			}
			f, err := tree.TreeEntryFile(entry)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			return writeFile(f, p, dir)
		}
		if sub, err = tree.Tree(p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		prefix = p + "/"
	}
	return sub.Files().ForEach(func(f *object.File) error {
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable {
			return nil
		}
		return writeFile(f, prefix+f.Name, dir)
	})
}

func writeFile(f *object.File, name, dir string) error {
	if !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, "\\") {
		return fmt.Errorf("%s: not a path inside the repository", name)
	}
	target := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer r.Close()
	out, err := os.Create(target)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return out.Close()
}
