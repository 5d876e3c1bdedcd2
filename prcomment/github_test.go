package prcomment

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustBody(t *testing.T, key, plan string) string {
	t.Helper()
	body, cut := Body(plan, BodyOptions{Key: key})
	if cut {
		t.Fatalf("a short plan was cut")
	}
	return body
}

func TestFirstRunCreatesTheCommentAndTheNextUpdatesItInPlace(t *testing.T) {
	f := newFakeGitHub(t)
	f.perPage = 2 // five comments: three pages
	f.seed("LGTM")
	f.seed("> " + Marker("dev") + "\n> quoted by a reviewer, not ours")
	f.seed(Marker("prod") + "\nthe prod cluster's plan")
	f.seed("what about maestro?")
	g, slept := f.client(t)
	ctx := context.Background()

	first, err := g.Upsert(ctx, f.pullRequest(), "dev", mustBody(t, "dev", "### meshops plan: upgrade\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || len(f.comments) != 5 || first.HTMLURL != f.htmlURL(first.ID) {
		t.Fatalf("first run: %+v, %d comments; want one created", first, len(f.comments))
	}
	wantCalls := []string{
		"GET /repos/Azure/ARO-HCP/issues/42/comments",
		"GET /repositories/7/issues/42/comments",
		"POST /repos/Azure/ARO-HCP/issues/42/comments",
	}
	if !slices.Equal(f.calls, wantCalls) {
		t.Errorf("first run requests:\n got %q\nwant %q", f.calls, wantCalls)
	}

	f.seed("a later comment")
	f.calls = nil
	second, err := g.Upsert(ctx, f.pullRequest(), "dev", mustBody(t, "dev", "### meshops plan: policy-only\n"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.ID != first.ID || len(f.comments) != 6 {
		t.Fatalf("second run: %+v, %d comments; want comment %d updated", second, len(f.comments), first.ID)
	}
	if got := f.calls[len(f.calls)-1]; got != "PATCH /repos/Azure/ARO-HCP/issues/comments/"+itoa(first.ID) {
		t.Errorf("second run ended with %s, want the PATCH of comment %d", got, first.ID)
	}
	for _, c := range f.comments {
		if c.ID == first.ID && !strings.Contains(c.Body, "policy-only") {
			t.Errorf("comment %d still reads %q", c.ID, c.Body)
		}
		if strings.HasPrefix(c.Body, Marker("prod")) && !strings.Contains(c.Body, "the prod cluster's plan") {
			t.Error("the prod cluster's comment was overwritten")
		}
	}
	if len(*slept) != 0 {
		t.Errorf("slept %v without any failure", *slept)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestATooLongPlanIsPostedCutWithANoteThatLinksTheArtifact(t *testing.T) {
	f := newFakeGitHub(t)
	g, _ := f.client(t)
	plan := longPlan(40, 3000)
	artifact := "https://github.com/Azure/ARO-HCP/actions/runs/1/artifacts/2"
	body, cut := Body(plan, BodyOptions{Key: "dev", FullPlan: artifact})
	if !cut {
		t.Fatal("a 120,000-character plan was not cut")
	}
	if _, err := g.Upsert(context.Background(), f.pullRequest(), "dev", body); err != nil {
		t.Fatal(err) // the fake refuses bodies over 65,536 characters, as GitHub does
	}
	if !strings.Contains(body, "[the plan artifact]("+artifact+")") {
		t.Errorf("the note does not link the artifact:\n%s", body[:500])
	}
	// Without the cut, GitHub refuses it with a 422 that says why.
	_, err := g.Upsert(context.Background(), f.pullRequest(), "other", Marker("other")+"\n"+plan)
	if err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("an uncut plan: error %v, want GitHub's 422", err)
	}
}

// 401, 403 and 404 end at once, with what to check.
func TestRefusalsEndAtOnceSayingWhatToCheck(t *testing.T) {
	for _, tc := range []struct {
		status  int
		message string
		want    []string
	}{
		{http.StatusForbidden, "Resource not accessible by integration", []string{"403 Forbidden", "Resource not accessible by integration", "pull-requests: write", "Azure/ARO-HCP"}},
		{http.StatusUnauthorized, "Bad credentials", []string{"401 Unauthorized", "Bad credentials", "GITHUB_TOKEN"}},
		{http.StatusNotFound, "Not Found", []string{"404 Not Found", "repository name Azure/ARO-HCP", "pull request number 42", "--api-url"}},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			f := newFakeGitHub(t)
			f.fail = func(call string, _ int) (int, http.Header, string, bool) {
				return tc.status, nil, `{"message":"` + tc.message + `","documentation_url":"https://docs.github.com/rest"}`, strings.HasPrefix(call, "POST")
			}
			g, slept := f.client(t)
			_, err := g.Upsert(context.Background(), f.pullRequest(), "", mustBody(t, "", "plan"))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if posts := f.seen["POST /repos/Azure/ARO-HCP/issues/42/comments"]; posts != 1 || len(*slept) != 0 {
				t.Errorf("%d POSTs and waits %v: a refusal must not be retried", posts, *slept)
			}
		})
	}
}

func TestA502ThenA200SucceedsAfterOneBackoff(t *testing.T) {
	f := newFakeGitHub(t)
	f.fail = func(call string, n int) (int, http.Header, string, bool) {
		return http.StatusBadGateway, nil, "<html>502 Bad Gateway</html>", strings.HasPrefix(call, "GET") && n == 0
	}
	g, slept := f.client(t)
	res, err := g.Upsert(context.Background(), f.pullRequest(), "", mustBody(t, "", "plan"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !slices.Equal(*slept, []time.Duration{time.Second}) {
		t.Errorf("created %v after waits %v; want created after one 1s backoff", res.Created, *slept)
	}
}

// GitHub made the comment but the answer was lost (502): the next try
// finds it and edits it rather than post a second one.
func TestALostCreateAnswerDoesNotPostTwice(t *testing.T) {
	f := newFakeGitHub(t)
	f.lost = func(n int) bool { return n == 0 }
	g, _ := f.client(t)
	res, err := g.Upsert(context.Background(), f.pullRequest(), "dev", mustBody(t, "dev", "plan"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.comments) != 1 || res.ID != f.comments[0].ID || f.seen["POST /repos/Azure/ARO-HCP/issues/42/comments"] != 1 {
		t.Errorf("%d comments after a lost answer, %d POSTs; want the one made, edited", len(f.comments), f.seen["POST /repos/Azure/ARO-HCP/issues/42/comments"])
	}
}

func TestServerErrorsAreRetriedWithBoundedExponentialBackoff(t *testing.T) {
	f := newFakeGitHub(t)
	f.fail = func(string, int) (int, http.Header, string, bool) {
		return http.StatusServiceUnavailable, nil, "", true
	}
	g, slept := f.client(t, func(o *Options) { o.Attempts, o.MaxBackoff = 6, 5*time.Second })
	_, err := g.Upsert(context.Background(), f.pullRequest(), "", mustBody(t, "", "plan"))
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "gave up after 6 tries") {
		t.Fatalf("error %v, want the 503 and the number of tries", err)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if !slices.Equal(*slept, want) {
		t.Errorf("waits %v, want %v", *slept, want)
	}
}

// Rate limits wait as long as GitHub asks (Retry-After, else until
// X-RateLimit-Reset, else a minute), and not at all when that is longer
// than MaxRateLimitWait.
func TestRateLimitsWaitAsGitHubAsks(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name    string
		status  int
		header  http.Header
		message string
		wait    time.Duration // 0: fails at once
	}{
		{"primary, quota spent", http.StatusForbidden, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {itoa(now.Unix() + 30)}},
			"API rate limit exceeded for installation ID 1.", 31 * time.Second},
		{"secondary, Retry-After", http.StatusForbidden, http.Header{"Retry-After": {"7"}},
			"You have exceeded a secondary rate limit.", 7 * time.Second},
		{"secondary, no header", http.StatusForbidden, nil, "You have exceeded a secondary rate limit.", time.Minute},
		{"429 with Retry-After", http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, "", 2 * time.Second},
		{"reset an hour away", http.StatusForbidden, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {itoa(now.Unix() + 3600)}},
			"API rate limit exceeded", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t)
			f.fail = func(call string, n int) (int, http.Header, string, bool) {
				return tc.status, tc.header, `{"message":"` + tc.message + `"}`, strings.HasPrefix(call, "POST") && n == 0
			}
			g, slept := f.client(t)
			_, err := g.Upsert(context.Background(), f.pullRequest(), "", mustBody(t, "", "plan"))
			if tc.wait == 0 {
				if err == nil || !strings.Contains(err.Error(), "run again later") || len(*slept) != 0 {
					t.Fatalf("error %v after waits %v; want a failure at once that says to run again later", err, *slept)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*slept, []time.Duration{tc.wait}) {
				t.Errorf("waits %v, want %v", *slept, tc.wait)
			}
			if len(f.comments) != 1 {
				t.Errorf("%d comments, want 1", len(f.comments))
			}
		})
	}
}

func TestPaginationLinksToAnotherHostAreNotFollowed(t *testing.T) {
	f := newFakeGitHub(t)
	f.fail = func(call string, _ int) (int, http.Header, string, bool) {
		return http.StatusOK, http.Header{"Link": {`<https://evil.example/next?page=2>; rel="next"`}}, "[]", strings.HasPrefix(call, "GET")
	}
	g, _ := f.client(t)
	_, err := g.Upsert(context.Background(), f.pullRequest(), "", mustBody(t, "", "plan"))
	if err == nil || !strings.Contains(err.Error(), "not following it with the token") {
		t.Fatalf("error %v, want the foreign link refused", err)
	}
}

func TestNewGitHubNeedsATokenAndAnAPIURL(t *testing.T) {
	if _, err := NewGitHub(Options{}); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	if _, err := NewGitHub(Options{Token: "x", APIURL: "github.example.com/api/v3"}); err == nil || !strings.Contains(err.Error(), "api/v3") {
		t.Errorf("API URL without a scheme: %v", err)
	}
	g, err := NewGitHub(Options{Token: "x", APIURL: "https://ghe.example.com/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := g.resolve("/repos/o/r/issues/1/comments?per_page=100")
	if err != nil || u.String() != "https://ghe.example.com/api/v3/repos/o/r/issues/1/comments?per_page=100" {
		t.Errorf("GitHub Enterprise path: %v %v", u, err)
	}
}

func TestParsePullRequest(t *testing.T) {
	for _, tc := range []struct {
		repo   string
		number int
		ok     bool
	}{
		{"Azure/ARO-HCP", 42, true},
		{"owner/name.with_dots-1", 1, true},
		{"Azure", 42, false},
		{"Azure/ARO-HCP/extra", 42, false},
		{"Azure/ARO HCP", 42, false},
		{"Azure/ARO-HCP", 0, false},
	} {
		_, err := ParsePullRequest(tc.repo, tc.number)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePullRequest(%q, %d): %v", tc.repo, tc.number, err)
		}
	}
}
