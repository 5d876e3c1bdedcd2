package gitsource

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/fluxcd/pkg/gittestserver"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const repoPath = "org/config.git"

// upstream is the remote side of a test: a real git server (gitkit, which
// runs git's own upload-pack) serving a bare repo, and a working clone that
// commits and pushes to that bare repo directly.
type upstream struct {
	t    testing.TB
	srv  *gittestserver.GitServer
	work *git.Repository
	dir  string
	when time.Time
}

// newUpstream starts a git server over HTTP (with basic auth when user is
// set) and creates org/config.git on it with one commit on main.
func newUpstream(t testing.TB, user, password string) *upstream {
	t.Helper()
	srv := gittestserver.NewGitServer(t.TempDir())
	if user != "" {
		srv.Auth(user, password)
	}
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)

	bare := filepath.Join(srv.Root(), repoPath)
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}, Bare: true,
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	work, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := work.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{"file://" + bare}}); err != nil {
		t.Fatal(err)
	}
	u := &upstream{t: t, srv: srv, work: work, dir: dir, when: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	u.commit(map[string]string{"config/config.yaml": "targetVersion: asm-1-28\n"}, nil)
	u.push("main")
	return u
}

// httpURL is the repo's URL without credentials.
func (u *upstream) httpURL() string { return u.srv.HTTPAddress() + "/" + repoPath }

// commit writes files (an empty content deletes the file), commits them on
// the current branch, signed when key is set, and returns the commit.
func (u *upstream) commit(files map[string]string, key *openpgp.Entity) plumbing.Hash {
	u.t.Helper()
	for name, content := range files {
		path := filepath.Join(u.dir, name)
		if content == "" {
			if err := os.Remove(path); err != nil {
				u.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	wt, err := u.work.Worktree()
	if err != nil {
		u.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		u.t.Fatal(err)
	}
	u.when = u.when.Add(time.Minute)
	sig := &object.Signature{Name: "Test", Email: "test@example.com", When: u.when}
	h, err := wt.Commit("change "+u.when.Format(time.TimeOnly), &git.CommitOptions{Author: sig, SignKey: key, AllowEmptyCommits: true})
	if err != nil {
		u.t.Fatal(err)
	}
	return h
}

// push force-pushes the working clone's main to the branch.
func (u *upstream) push(branch string) {
	u.t.Helper()
	spec := config.RefSpec("+refs/heads/main:" + plumbing.NewBranchReferenceName(branch).String())
	err := u.work.Push(&git.PushOptions{RefSpecs: []config.RefSpec{spec}})
	if err != nil && err != git.NoErrAlreadyUpToDate {
		u.t.Fatal(err)
	}
}

// rewind resets the working clone's branch to h (as before a force push).
func (u *upstream) rewind(h plumbing.Hash) {
	u.t.Helper()
	wt, err := u.work.Worktree()
	if err != nil {
		u.t.Fatal(err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: h, Mode: git.HardReset}); err != nil {
		u.t.Fatal(err)
	}
}

// tag creates or moves a tag on the remote, annotated when message is set.
func (u *upstream) tag(name string, h plumbing.Hash, message string) {
	u.t.Helper()
	_ = u.work.DeleteTag(name)
	var opts *git.CreateTagOptions
	if message != "" {
		opts = &git.CreateTagOptions{Message: message, Tagger: &object.Signature{Name: "Test", Email: "test@example.com", When: u.when}}
	}
	if _, err := u.work.CreateTag(name, h, opts); err != nil {
		u.t.Fatal(err)
	}
	spec := config.RefSpec("+refs/tags/" + name + ":refs/tags/" + name)
	if err := u.work.Push(&git.PushOptions{RefSpecs: []config.RefSpec{spec}}); err != nil && err != git.NoErrAlreadyUpToDate {
		u.t.Fatal(err)
	}
}

// logBuffer collects a Source's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newSource builds a Source on opts with a logger into the returned buffer.
func newSource(t testing.TB, opts Options) (*Source, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts.Logger = logs.logger()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func fetch(t testing.TB, s *Source) Artifact {
	t.Helper()
	art, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return art
}

// readFile returns a file of the checkout, "" when it does not exist.
func readFile(t testing.TB, art Artifact, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(art.Path, name))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantLog(t testing.TB, logs *logBuffer, want string) {
	t.Helper()
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}

func openCacheRepo(t testing.TB, s *Source) *git.Repository {
	t.Helper()
	repo, err := git.PlainOpen(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}
