package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/sync/gitsource"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/sync/webhook"
)

// sourceFlags say where meshops run gets the config repo: a git remote
// (--repo) fetched into a cache, or a checkout on disk (--repo-path) read
// as it is. Secrets come from files, never from flag values that show in ps.
type sourceFlags struct {
	repoPath          *string
	url               string
	branch, tag       string
	commit            string
	cacheDir          string
	secretDir         string
	keyringFile       string
	insecureHostKey   bool
	insecureHTTP      bool
	shallow           bool
	webhookSecretFile string
	webhookTokenFile  string
	webhookMaxBody    int64
}

func (f *sourceFlags) register(cmd *cobra.Command, repoPath *string) {
	f.repoPath = repoPath
	fl := cmd.Flags()
	fl.StringVar(&f.url, "repo", "", "git URL of the config repo (https://, ssh://); without it, --repo-path is read as it is")
	fl.StringVar(&f.branch, "branch", "", "branch to track (default main)")
	fl.StringVar(&f.tag, "tag", "", "pin a tag instead of a branch")
	fl.StringVar(&f.commit, "commit", "", "pin a full commit hash instead of a branch")
	fl.StringVar(&f.cacheDir, "git-cache-dir", "", "folder the repo is cloned into once and fetched into after (default: a folder in the user cache)")
	fl.StringVar(&f.secretDir, "git-secret-dir", "", "folder of credential files named as in Flux Secrets: username, password, bearerToken, identity, known_hosts")
	fl.StringVar(&f.keyringFile, "verify-keyring", "", "armored OpenPGP public keys: refuse a head commit not signed by one of them")
	fl.BoolVar(&f.insecureHostKey, "insecure-ignore-host-key", false, "accept any SSH host key (default: known_hosts is required)")
	fl.BoolVar(&f.shallow, "shallow", false, "clone only the tip commit the first time")
	fl.BoolVar(&f.insecureHTTP, "allow-insecure-http", false, "allow sending git credentials over plain http:// (test servers only)")
}

// registerHooks adds the push webhook flags (meshops run only).
func (f *sourceFlags) registerHooks(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.webhookSecretFile, "webhook-secret-file", "", "file holding the GitHub webhook secret; enables POST /hooks/github")
	fl.StringVar(&f.webhookTokenFile, "webhook-token-file", "", "file holding a bearer token; enables POST /hooks/generic for other git hosts")
	fl.Int64Var(&f.webhookMaxBody, "webhook-max-body-bytes", webhook.DefaultMaxBodyBytes, "largest GitHub delivery read (bytes); larger ones get 413")
}

// build returns the reconcile source.
func (f *sourceFlags) build(log *slog.Logger) (reconcile.Source, error) {
	if f.url == "" {
		if f.branch != "" || f.tag != "" || f.commit != "" || f.secretDir != "" {
			return nil, errors.New("--branch, --tag, --commit and --git-secret-dir need --repo (a git URL)")
		}
		return reconcile.DirSource{Path: *f.repoPath}, nil
	}
	opts := gitsource.DefaultOptions()
	opts.URL, opts.Tag, opts.Commit, opts.Logger = f.url, f.tag, f.commit, log
	opts.InsecureIgnoreHostKey, opts.Shallow, opts.InsecureHTTP = f.insecureHostKey, f.shallow, f.insecureHTTP
	if f.branch != "" || f.tag != "" || f.commit != "" {
		opts.Branch = f.branch
	}
	opts.CacheDir = f.cacheDir
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("--git-cache-dir: %w", err)
		}
		opts.CacheDir = dir + "/meshops/git"
	}
	if f.secretDir != "" {
		creds, err := gitsource.CredentialsFromDir(f.secretDir)
		if err != nil {
			return nil, fmt.Errorf("--git-secret-dir: %w", err)
		}
		opts.Auth = creds
	}
	if f.keyringFile != "" {
		keys, err := os.ReadFile(f.keyringFile)
		if err != nil {
			return nil, fmt.Errorf("--verify-keyring: %w", err)
		}
		opts.Keyring = string(keys)
	}
	src, err := gitsource.New(opts)
	if err != nil {
		return nil, err
	}
	return reconcile.GitSource{Source: src}, nil
}

// hooks registers the push webhooks whose secrets are given.
func (f *sourceFlags) hooks(mux *http.ServeMux, trigger func(string), m *reconcile.Metrics, log *slog.Logger) error {
	opts := webhook.DefaultOptions()
	opts.Branch, opts.Trigger, opts.Logger, opts.MaxBodyBytes = f.branch, trigger, log, f.webhookMaxBody
	opts.Observe = func(endpoint, result string) { m.WebhookRequests.WithLabelValues(endpoint, result).Inc() }
	var err error
	if f.webhookSecretFile != "" {
		if opts.GitHubSecret, err = webhook.SecretFromFile(f.webhookSecretFile); err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
	}
	if f.webhookTokenFile != "" {
		if opts.GenericToken, err = webhook.SecretFromFile(f.webhookTokenFile); err != nil {
			return fmt.Errorf("--webhook-token-file: %w", err)
		}
	}
	if opts.GitHubSecret == nil && opts.GenericToken == nil {
		return nil
	}
	h, err := webhook.New(opts)
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
}
