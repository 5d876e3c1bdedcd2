package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// repoFS is the config repo as a jail: every file configs reads goes
// through it. It resolves paths with os.Root, which follows symbolic links
// only while they stay inside the repo (an absolute link, or one that
// climbs out, is an error), reads regular files only (a named pipe would
// hang the reader, a device never end), and draws on the load's budget so
// that each file and all of them together are bounded.
//
// Its refusals name the path, relative to the repo, and the rule; they never
// carry a byte of what the path leads to.
type repoFS struct {
	root   *os.Root
	budget *budget
}

// openRepo opens the repo folder at dir.
func openRepo(dir string, b *budget) (*repoFS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("config repo: %w", err)
	}
	return &repoFS{root: root, budget: b}, nil
}

func (r *repoFS) Close() error { return r.root.Close() }

// refusal is a path the jail refuses, with the rule it breaks. It is an
// error for readFile's callers; they turn it into a Problem of their own.
type refusal struct {
	path string // relative to the repo, slash-separated
	rule string
	fix  string
}

func (e *refusal) Error() string { return e.path + ": " + e.rule }

// problem reports the refusal as a Problem at the refused path.
func (e *refusal) problem() Problem {
	return Problem{File: e.path, Message: "refused: " + e.rule, Fix: e.fix}
}

// fixOutside is the fix for anything that leads out of the repo.
const fixOutside = "keep the file inside the config repo, as a regular file (not a link to elsewhere)"

// localPath cleans a path written in meshops.yaml or given as an option and
// reports whether it stays inside the repo: relative, and without a ".."
// that climbs above the root. Paths are slash-separated in meshops.yaml.
func localPath(p string) (string, bool) {
	p = filepath.ToSlash(p)
	if p == "" || strings.HasPrefix(p, "/") || filepath.IsAbs(p) || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return p, false
	}
	clean := path.Clean(p)
	if !filepath.IsLocal(filepath.FromSlash(clean)) && clean != "." {
		return p, false
	}
	return clean, true
}

// stat returns what name leads to, following links inside the repo. The
// error is fs.ErrNotExist (wrapped) when nothing is there, a *refusal when
// the path leaves the repo or loops, or another I/O error.
func (r *repoFS) stat(name string) (fs.FileInfo, error) {
	info, err := r.root.Stat(name)
	if err == nil {
		return info, nil
	}
	return nil, r.classify(name, err)
}

// classify turns an error of os.Root into a refusal when the path leads
// out of the repo. Paths given to repoFS are local (localPath), so the only
// way out is a symbolic link; os.Root does not export its "escapes" error,
// so anything that is not "missing" or "not allowed" is taken as one.
func (r *repoFS) classify(name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if info, lerr := r.root.Lstat(name); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
			return &refusal{path: name, rule: "a symbolic link to nothing inside the config repo", fix: fixOutside}
		}
		return fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	case errors.Is(err, syscall.ELOOP):
		return &refusal{path: name, rule: "a loop of symbolic links", fix: fixOutside}
	case errors.Is(err, fs.ErrPermission):
		return &refusal{path: name, rule: "not readable (permission denied)", fix: "make the file readable by meshops"}
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return &refusal{path: name, rule: "leads outside the config repo (through a symbolic link)", fix: fixOutside}
}

// kindOf names a file mode that is not a regular file, for refusals.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// readFile reads the regular file at name (relative to the repo) within the
// limits. Errors are as stat's, plus a *refusal for anything but a regular
// file and for a file over FileBytes or the load over TotalBytes.
func (r *repoFS) readFile(name string) ([]byte, error) {
	if e := r.budget.crossed(); e != nil {
		return nil, &refusal{path: name, rule: "not read: " + e.Error() + " already", fix: e.fix}
	}
	info, err := r.stat(name)
	if err != nil {
		return nil, err
	}
	if err := r.checkFile(name, info); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the file have been swapped for a named pipe since
	// the stat, opening it still returns at once, and the fstat below
	// refuses it.
	f, err := r.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, r.classify(name, err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := r.checkFile(name, info); err != nil {
		return nil, err
	}
	lim := r.budget.limits
	// Sized by the stat, so a file is read into one buffer; the limit
	// still holds should the file grow meanwhile.
	var buf bytes.Buffer
	buf.Grow(int(min(info.Size(), lim.FileBytes)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, lim.FileBytes+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data := buf.Bytes()
	if err := r.charge(name, int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

// checkFile refuses what is not a regular file, or is too big.
func (r *repoFS) checkFile(name string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return &refusal{path: name, rule: kindOf(info.Mode()) + ", not a regular file",
			fix: "meshops reads only regular files: replace it with the file itself"}
	}
	return r.fits(name, info.Size())
}

// charge counts n bytes of name against FileBytes and TotalBytes.
func (r *repoFS) charge(name string, n int64) error {
	if err := r.fits(name, n); err != nil {
		return err
	}
	r.budget.bytes += n
	return nil
}

// fits refuses n more bytes of name over FileBytes or TotalBytes.
func (r *repoFS) fits(name string, n int64) error {
	lim := r.budget.limits
	if n > lim.FileBytes {
		return &refusal{path: name, rule: fmt.Sprintf("larger than %d bytes (limit FileBytes)", lim.FileBytes),
			fix: "split the file, or remove what meshops does not need"}
	}
	if r.budget.bytes+n > lim.TotalBytes {
		e := r.budget.fail(&limitError{field: "TotalBytes", limit: lim.TotalBytes,
			what: "bytes in the files of the config repo, all together", fix: "manage less from one config repo"})
		return &refusal{path: name, rule: e.Error(), fix: e.fix}
	}
	return nil
}

// listYAML returns the *.yaml and *.yml files below the folder dir, sorted,
// slash-separated and relative to the repo. Hidden files and folders
// (".git", editor backups) are skipped, and so are links to folders: a
// link is listed only when its name says YAML, and readFile then decides.
// Folders are read whole one by one; Entries bounds them all together.
func (r *repoFS) listYAML(dir string) ([]string, error) {
	var files []string
	entries := 0
	fsys := r.root.FS()
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return r.classify(p, err)
		}
		if p != dir {
			entries++
			if entries > r.budget.limits.Entries {
				e := r.budget.fail(&limitError{field: "Entries", limit: int64(r.budget.limits.Entries),
					what: "files and folders below the manifests folder", fix: "keep only manifests in the manifests folder"})
				return &refusal{path: dir, rule: e.Error(), fix: e.fix}
			}
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(d.Name(), ".yaml") || strings.HasSuffix(d.Name(), ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	return files, nil
}
