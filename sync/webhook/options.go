package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
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
	// ResultTimeout: a body not received within Options.BodyReadTimeout. 408.
	ResultTimeout = "timeout"
	// ResultBusy: Options.MaxInFlight webhook requests were already being
	// served; answered at once, nothing read. 503.
	ResultBusy = "busy"
	// ResultDuplicate: a signed push whose X-GitHub-Delivery id or body
	// was already accepted within Options.ReplayWindow; not triggered
	// again. 202.
	ResultDuplicate = "duplicate"
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

	// MaxBodyBytes caps the GitHub body read; a larger declared length is
	// refused before reading, a larger body when the cap is reached: 413.
	// Default 1 MiB: GitHub caps payloads at 25 MB, but meshops needs only
	// the ref, and a push payload lists at most 20 commits (a few KiB to a
	// few hundred KiB). The generic endpoint reads no body at all.
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading the GitHub body, from the end of the
	// headers (a read deadline on the connection); a client that trickles
	// gets 408 and its connection closed. Default 10s.
	BodyReadTimeout time.Duration
	// MaxInFlight caps the webhook requests served at once, both
	// endpoints together; one over it gets 503 at once, before anything is
	// read. /healthz and /metrics are not counted. With MaxBodyBytes it
	// bounds the memory webhook bodies take (16 × 1 MiB). Default 16.
	MaxInFlight int
	// ReplayWindow is how long an accepted GitHub push is remembered, by
	// its X-GitHub-Delivery id and by its signature (the HMAC of its
	// body): the same delivery again within it is answered 202
	// "duplicate" and triggers nothing. The delivery id is not signed, so
	// the body is remembered too: a replay under a new id is still caught.
	// Default 1h.
	ReplayWindow time.Duration
	// MaxRemembered bounds the deliveries remembered for ReplayWindow; the
	// oldest is forgotten first. Default 4096 (about 0.5 MiB).
	MaxRemembered int

	// Logger receives one line per request with the stable keys endpoint,
	// result, remote, event, ref, commit and delivery (GitHub's delivery
	// id). Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultBranch          = "main"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultBodyReadTimeout = 10 * time.Second
	DefaultMaxInFlight     = 16
	DefaultReplayWindow    = time.Hour
	DefaultMaxRemembered   = 4096
)

// DefaultOptions returns the options with every default filled in; the
// secrets and Trigger are still to be set.
func DefaultOptions() Options {
	return Options{
		Branch: DefaultBranch, MaxBodyBytes: DefaultMaxBodyBytes, BodyReadTimeout: DefaultBodyReadTimeout,
		MaxInFlight: DefaultMaxInFlight, ReplayWindow: DefaultReplayWindow, MaxRemembered: DefaultMaxRemembered,
		Logger: slog.Default(),
	}
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
	d := DefaultOptions()
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = d.BodyReadTimeout
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.ReplayWindow <= 0 {
		o.ReplayWindow = d.ReplayWindow
	}
	if o.MaxRemembered <= 0 {
		o.MaxRemembered = d.MaxRemembered
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
