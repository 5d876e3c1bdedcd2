package prcomment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultAPIURL is github.com's REST API. GitHub Enterprise Server's
	// is https://HOST/api/v3; GitHub Actions sets GITHUB_API_URL to the
	// right one.
	DefaultAPIURL = "https://api.github.com"
	// APIVersion is the REST API version meshops was written against,
	// sent as X-GitHub-Api-Version.
	APIVersion = "2022-11-28"
	// mediaType is what GitHub documents for Accept.
	mediaType = "application/vnd.github+json"
	// maxResponse bounds an answer read into memory.
	maxResponse = 32 << 20
	// maxPages bounds the comment pages read (100 comments each).
	maxPages = 300
)

// Options configure the GitHub client. Zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// APIURL is the REST API root. Default DefaultAPIURL.
	APIURL string
	// Token is sent as "Authorization: Bearer"; required. The CLI reads it
	// from GITHUB_TOKEN, never from a flag (flags show in process lists).
	Token string
	// HTTPClient sends the requests. Default: one with a 30s timeout.
	HTTPClient *http.Client
	// Attempts bounds the tries of one request that hit a rate limit, a
	// 5xx answer or a network error. Default 5.
	Attempts int
	// Backoff is the wait before the second try, doubled for each try
	// after, up to MaxBackoff. Defaults 1s and 30s.
	Backoff, MaxBackoff time.Duration
	// MaxRateLimitWait bounds a wait GitHub asks for (Retry-After, or
	// X-RateLimit-Reset when the quota is spent); a longer one fails at once
	// rather than hold a CI job for up to an hour. Default 3m.
	MaxRateLimitWait time.Duration
	// Sleep waits between tries and returns early with ctx's error. Tests
	// replace it so they do not wait. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock X-RateLimit-Reset is read against. Default time.Now.
	Now func() time.Time
	// Log gets one line per retry. Default: discarded.
	Log *slog.Logger
}

// DefaultOptions are the documented defaults, without a token.
func DefaultOptions() Options {
	return Options{
		APIURL:           DefaultAPIURL,
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
		Attempts:         5,
		Backoff:          time.Second,
		MaxBackoff:       30 * time.Second,
		MaxRateLimitWait: 3 * time.Minute,
		Sleep:            sleep,
		Now:              time.Now,
		Log:              slog.New(slog.DiscardHandler),
	}
}

// sleep waits d, or less when ctx ends first (since Go 1.23 an unfired
// time.After timer is collected, so nothing leaks).
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GitHub talks to GitHub's REST API: the three issue-comment endpoints a
// sticky comment needs (list, create, update).
type GitHub struct {
	o    Options
	base *url.URL
}

// NewGitHub checks the options and fills in the defaults.
func NewGitHub(o Options) (*GitHub, error) {
	d := DefaultOptions()
	if o.APIURL == "" {
		o.APIURL = d.APIURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = d.HTTPClient
	}
	if o.Attempts <= 0 {
		o.Attempts = d.Attempts
	}
	if o.Backoff <= 0 {
		o.Backoff = d.Backoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = d.MaxBackoff
	}
	if o.MaxRateLimitWait <= 0 {
		o.MaxRateLimitWait = d.MaxRateLimitWait
	}
	if o.Sleep == nil {
		o.Sleep = d.Sleep
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Log == nil {
		o.Log = d.Log
	}
	if o.Token == "" {
		return nil, errors.New("no GitHub token: set GITHUB_TOKEN (in GitHub Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})")
	}
	base, err := url.Parse(strings.TrimRight(o.APIURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("API URL %q: want https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server", o.APIURL)
	}
	return &GitHub{o: o, base: base}, nil
}

// PullRequest names a pull request.
type PullRequest struct {
	Owner, Repo string
	Number      int
}

func (p PullRequest) String() string { return fmt.Sprintf("%s/%s#%d", p.Owner, p.Repo, p.Number) }

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParsePullRequest reads "owner/name" and a number.
func ParsePullRequest(repository string, number int) (PullRequest, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || !namePattern.MatchString(owner) || !namePattern.MatchString(repo) {
		return PullRequest{}, fmt.Errorf("repository %q: want owner/name, e.g. Azure/ARO-HCP", repository)
	}
	if number <= 0 {
		return PullRequest{}, fmt.Errorf("pull request number %d: want the number from the pull request's URL", number)
	}
	return PullRequest{Owner: owner, Repo: repo, Number: number}, nil
}

// Comment is an issue comment as GitHub returns it (the fields used here).
type Comment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
}

// APIError is an answer from GitHub that waiting does not fix, or a
// temporary one that outlasted the retries.
type APIError struct {
	Method, Path string
	Status       int
	// Message is GitHub's own message field, when the answer had one.
	Message string
	// Hint says what to check, for the statuses that have a usual cause.
	Hint string
	// RateLimited: GitHub refused the request for its rate limits, and did
	// not process it; wait is how long it asked to wait.
	RateLimited bool
	wait        time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("GitHub answered %s %s with %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// temporary answers may succeed when tried again later.
func (e *APIError) temporary() bool { return e.Status >= 500 || e.Status == http.StatusTooManyRequests }

// hint says what to check after an answer that retries do not fix.
func hint(pr PullRequest, status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "check GITHUB_TOKEN: it is missing, expired or revoked"
	case http.StatusForbidden:
		return fmt.Sprintf("check that the token may write comments on %s/%s: in GitHub Actions give the job permissions: pull-requests: write "+
			"(the token of a pull request from a fork is read-only); a personal token needs the repo scope, a fine-grained one pull requests: read and write", pr.Owner, pr.Repo)
	case http.StatusNotFound:
		return fmt.Sprintf("check the repository name %s/%s and the pull request number %d, that the token can see the repository "+
			"(GitHub answers 404, not 403, when it cannot), and for GitHub Enterprise Server --api-url https://HOST/api/v3", pr.Owner, pr.Repo, pr.Number)
	case http.StatusUnprocessableEntity:
		return "GitHub refused the comment body"
	}
	return ""
}

// call sends one request and decodes the JSON answer into out, trying
// again after rate limits and, when retryServerErrors, after 5xx answers
// and network errors. A create is not retried on those: GitHub may have
// made the comment before the answer was lost (Upsert looks first).
func (g *GitHub) call(ctx context.Context, pr PullRequest, method, target string, in, out any, retryServerErrors bool) (http.Header, error) {
	u, err := g.resolve(target)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if in != nil {
		if payload, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		header, err := g.once(ctx, pr, method, u, payload, out)
		if err == nil {
			return header, nil
		}
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return nil, err
		case isAPI && apiErr.RateLimited:
			// Refused before it was processed: safe to send again, after
			// the wait GitHub asked for.
			wait = apiErr.wait
			if wait > g.o.MaxRateLimitWait {
				apiErr.Hint = fmt.Sprintf("rate limited for %s more, longer than meshops waits (%s): run again later", wait.Round(time.Second), g.o.MaxRateLimitWait)
				return nil, apiErr
			}
		case !retryServerErrors, isAPI && !apiErr.temporary():
			return nil, err
		default:
			wait = g.backoff(attempt)
			if isAPI {
				wait = min(max(wait, apiErr.wait), g.o.MaxRateLimitWait)
			}
		}
		if attempt >= g.o.Attempts {
			if isAPI && apiErr.RateLimited {
				apiErr.Hint = fmt.Sprintf("still rate limited after %d tries: run again later", attempt)
				return nil, apiErr
			}
			return nil, fmt.Errorf("%w (gave up after %d tries)", err, attempt)
		}
		g.o.Log.Info("GitHub request failed, trying again", "method", method, "path", u.Path, "attempt", attempt, "wait", wait, "error", err)
		if err := g.o.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// backoff is the wait after the attempt-th failed try: Backoff, doubled
// for each try before, at most MaxBackoff.
func (g *GitHub) backoff(attempt int) time.Duration {
	d := g.o.Backoff
	for i := 1; i < attempt && d < g.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, g.o.MaxBackoff)
}

// once sends a request and decodes its answer.
func (g *GitHub) once(ctx context.Context, pr PullRequest, method string, u *url.URL, payload []byte, out any) (http.Header, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", mediaType)
	req.Header.Set("Authorization", "Bearer "+g.o.Token)
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	req.Header.Set("User-Agent", "meshops")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, u.Path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return nil, fmt.Errorf("%s %s: decoding the answer: %w", method, u.Path, err)
			}
		}
		return resp.Header, nil
	}
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &msg)
	apiErr := &APIError{Method: method, Path: u.Path, Status: resp.StatusCode, Message: msg.Message}
	apiErr.wait, apiErr.RateLimited = g.rateLimitWait(resp, msg.Message)
	if !apiErr.RateLimited {
		apiErr.wait = retryAfter(resp.Header)
		apiErr.Hint = hint(pr, resp.StatusCode)
	}
	return nil, apiErr
}

// rateLimitWait tells a rate limit (403 or 429, with GitHub's rate-limit
// headers or message) from a refusal, and how long GitHub asks to wait:
// Retry-After if given, else until X-RateLimit-Reset when the quota is
// spent, else a minute, as GitHub's documentation says.
func (g *GitHub) rateLimitWait(resp *http.Response, message string) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	h := resp.Header
	if d := retryAfter(h); d > 0 {
		return d, true
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(reset, 0).Sub(g.o.Now())+time.Second, time.Second), true
		}
		return time.Minute, true
	}
	if resp.StatusCode == http.StatusTooManyRequests || strings.Contains(strings.ToLower(message), "rate limit") {
		return time.Minute, true
	}
	return 0, false
}

func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return max(time.Duration(s)*time.Second, time.Second)
	}
	return 0
}

// resolve makes a path or a pagination link absolute, refusing links to
// another host: the token goes with every request.
func (g *GitHub) resolve(target string) (*url.URL, error) {
	if strings.HasPrefix(target, "/") {
		u := *g.base
		p, q, _ := strings.Cut(target, "?")
		u.Path = strings.TrimRight(g.base.Path, "/") + p
		u.RawQuery = q
		return &u, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("link %q from GitHub: %w", target, err)
	}
	if u.Scheme != g.base.Scheme || u.Host != g.base.Host {
		return nil, fmt.Errorf("link %q from GitHub leaves %s; not following it with the token", target, g.base.Host)
	}
	return u, nil
}

// nextLink is the rel="next" URL of a Link header, "" on the last page.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				if strings.ReplaceAll(strings.TrimSpace(p), " ", "") == `rel="next"` {
					return strings.Trim(strings.TrimSpace(target), "<>")
				}
			}
		}
	}
	return ""
}

// listComments reads every comment of the pull request, page by page.
func (g *GitHub) listComments(ctx context.Context, pr PullRequest) ([]Comment, error) {
	var all []Comment
	next := fmt.Sprintf("/repos/%s/%s/issues/%d/comments?per_page=100", url.PathEscape(pr.Owner), url.PathEscape(pr.Repo), pr.Number)
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("%s has more than %d pages of comments; not reading further", pr, maxPages)
		}
		var comments []Comment
		h, err := g.call(ctx, pr, http.MethodGet, next, nil, &comments, true)
		if err != nil {
			return nil, err
		}
		all = append(all, comments...)
		next = nextLink(h)
	}
	return all, nil
}

func (g *GitHub) createComment(ctx context.Context, pr PullRequest, body string) (Comment, error) {
	var c Comment
	_, err := g.call(ctx, pr, http.MethodPost,
		fmt.Sprintf("/repos/%s/%s/issues/%d/comments", url.PathEscape(pr.Owner), url.PathEscape(pr.Repo), pr.Number),
		map[string]string{"body": body}, &c, false)
	return c, err
}

func (g *GitHub) updateComment(ctx context.Context, pr PullRequest, id int64, body string) (Comment, error) {
	var c Comment
	_, err := g.call(ctx, pr, http.MethodPatch,
		fmt.Sprintf("/repos/%s/%s/issues/comments/%d", url.PathEscape(pr.Owner), url.PathEscape(pr.Repo), id),
		map[string]string{"body": body}, &c, true)
	return c, err
}
