package gitrepo

import (
	"path/filepath"
	"testing"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// Served is a bare repository on a real git server (gitkit, which runs
// git's own upload-pack) that a Repo pushes to.
type Served struct {
	// URL is the repository's HTTP URL, without credentials.
	URL  string
	bare string
}

// Serve starts a git server over HTTP with basic auth (user, password) and
// creates an empty bare repository on it whose HEAD is main, so clones of
// main work (gittestserver.InitRepo would leave HEAD on master).
func Serve(t testing.TB, user, password string) *Served {
	t.Helper()
	srv := gittestserver.NewGitServer(t.TempDir())
	srv.Auth(user, password)
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	bare := filepath.Join(srv.Root(), "org", "config.git")
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}, Bare: true,
	}); err != nil {
		t.Fatal(err)
	}
	return &Served{URL: srv.HTTPAddress() + "/org/config.git", bare: bare}
}

// Push force-pushes the work tree's HEAD to main on the served repository,
// straight into its folder (the server is what meshops fetches through).
func (r *Repo) Push(s *Served) {
	r.t.Helper()
	head, err := r.repo.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.repo.Remote("served"); err != nil {
		if _, err := r.repo.CreateRemote(&config.RemoteConfig{Name: "served", URLs: []string{"file://" + s.bare}}); err != nil {
			r.t.Fatal(err)
		}
	}
	spec := config.RefSpec("+" + head.Name().String() + ":" + plumbing.NewBranchReferenceName("main").String())
	if err := r.repo.Push(&git.PushOptions{RemoteName: "served", RefSpecs: []config.RefSpec{spec}}); err != nil && err != git.NoErrAlreadyUpToDate {
		r.t.Fatal(err)
	}
}
