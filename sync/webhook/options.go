package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Paths the handlers are registered at by Register.
const (
	PathGitHub  = "/hooks/github"
	PathGeneric = "/hooks/generic"
)

// Endpoint names passed to Options.Observe (a bounded label set).
const (
	EndpointGitHub  = "github"
	EndpointGeneric = "generic"
)

// Results passed to Options.Observe, one per request (a bounded label set).
const (
	// ResultTriggered: an accepted push; Trigger was called. 202.
	ResultTriggered = "triggered"
	// ResultPing: GitHub's ping, signed correctly. 200.
	ResultPing = "ping"
	// ResultIgnored: an authenticated event that is not a push to the
	// tracked branch (another event, branch, a tag, a deleted branch). 202.
	ResultIgnored = "ignored"
	// ResultUnauthorized: a missing or wrong signature or token. 401.
	ResultUnauthorized = "unauthorized"
	// ResultBadRequest: no event header, or a push payload that is not JSON. 400.
	ResultBadRequest = "bad_request"
	// ResultMethodNotAllowed: anything but POST. 405.
	ResultMethodNotAllowed = "method_not_allowed"
	// ResultTooLarge: a body over Options.MaxBodyBytes. 413.
	ResultTooLarge = "too_large"
)

// Options configure the handlers.
type Options struct {
	// Branch whose pushes trigger (refs/heads/<Branch>). Default "main".
	// A Source pinned to a tag or commit needs no push trigger.
	Branch string

	// GitHubSecret is the webhook secret configured on GitHub. The GitHub
	// endpoint exists only when it is set. Read it from a file or a
	// Secret (SecretFromFile), never from a flag value.
	GitHubSecret []byte
	// GenericToken is the bearer token of the generic endpoint, which
	// exists only when it is set.
	GenericToken []byte

	// Trigger is called once for every accepted push, with a short reason
	// for logs ("github push 1a2b3c4 to refs/heads/main"). It runs on the
	// request's goroutine and must not block: hand the reason over and
	// return. Required.
	Trigger func(reason string)

	// Observe, when set, is called once per request with the endpoint
	// (EndpointGitHub, EndpointGeneric) and the result (Result…), e.g. to
	// count meshops_webhook_requests_total{endpoint,result}.
	Observe func(endpoint, result string)

	// MaxBodyBytes caps the body read; larger requests get 413.
	// Default 5 MiB (GitHub caps payloads at 25 MB, but a push payload
	// lists at most 20 commits and is far smaller).
	MaxBodyBytes int64

	// Logger receives one line per request with the stable keys endpoint,
	// result, remote, event, ref, commit and delivery (GitHub's delivery
	// id). Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultBranch       = "main"
	DefaultMaxBodyBytes = 5 << 20
)

// DefaultOptions returns the options with every default filled in; the
// secrets and Trigger are still to be set.
func DefaultOptions() Options {
	return Options{Branch: DefaultBranch, MaxBodyBytes: DefaultMaxBodyBytes, Logger: slog.Default()}
}

func (o Options) withDefaults() (Options, error) {
	if o.Trigger == nil {
		return o, errors.New("webhook: Trigger is required")
	}
	if len(o.GitHubSecret) == 0 && len(o.GenericToken) == 0 {
		return o, errors.New("webhook: set GitHubSecret or GenericToken (or both); without either there is nothing to serve")
	}
	if o.Branch == "" {
		o.Branch = DefaultBranch
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observe == nil {
		o.Observe = func(string, string) {}
	}
	return o, nil
}

// SecretFromFile reads a webhook secret or token from a file (a mounted
// Secret key, or a file written by hand), dropping trailing line breaks.
// An empty secret is an error.
func SecretFromFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return nil, fmt.Errorf("webhook secret %s: empty", path)
	}
	return []byte(s), nil
}
