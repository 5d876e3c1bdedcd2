package prcomment

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const testToken = "ghs_test-token"

// fakeGitHub answers the three issue-comment endpoints the way GitHub's
// REST documentation describes them, and fails the test on any request
// that does not follow it: path, method, Accept, Authorization: Bearer,
// X-GitHub-Api-Version, a JSON body of exactly {"body": "..."}, and the
// 65,536-character body limit. Lists are paged through Link headers whose
// next pages use GitHub's /repositories/{id}/... form.
type fakeGitHub struct {
	t      *testing.T
	srv    *httptest.Server
	owner  string
	repo   string
	pr     int
	mu     sync.Mutex
	nextID int64
	// comments on the pull request, oldest first.
	comments []Comment
	// perPage caps a page below the per_page asked for, to force paging.
	perPage int
	// fail, when set, may answer a request instead of the fake: it gets
	// the request's "METHOD path" and how many such requests came before.
	fail func(call string, n int) (status int, header http.Header, body string, ok bool)
	// lost, when set, is called for a POST after the comment was made:
	// returning true answers 502 as if the answer was lost on the way.
	lost  func(n int) bool
	calls []string
	seen  map[string]int
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, owner: "Azure", repo: "ARO-HCP", pr: 42, nextID: 1000, perPage: 100, seen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// seed adds a comment someone else wrote.
func (f *fakeGitHub) seed(body string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.comments = append(f.comments, Comment{ID: f.nextID, Body: body, HTMLURL: f.htmlURL(f.nextID)})
	return f.nextID
}

func (f *fakeGitHub) htmlURL(id int64) string {
	return fmt.Sprintf("https://github.com/%s/%s/pull/%d#issuecomment-%d", f.owner, f.repo, f.pr, id)
}

func (f *fakeGitHub) client(t *testing.T, mutate ...func(*Options)) (*GitHub, *[]time.Duration) {
	t.Helper()
	var slept []time.Duration
	o := DefaultOptions()
	o.APIURL = f.srv.URL
	o.Token = testToken
	o.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	o.Now = func() time.Time { return time.Unix(1_800_000_000, 0) }
	for _, m := range mutate {
		m(&o)
	}
	g, err := NewGitHub(o)
	if err != nil {
		t.Fatal(err)
	}
	return g, &slept
}

func (f *fakeGitHub) pullRequest() PullRequest {
	return PullRequest{Owner: f.owner, Repo: f.repo, Number: f.pr}
}

var (
	listPath   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$`)
	pagedPath  = regexp.MustCompile(`^/repositories/7/issues/(\d+)/comments$`)
	updatePath = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$`)
)

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	f.calls = append(f.calls, call)
	n := f.seen[call]
	f.seen[call]++
	for name, want := range map[string]string{
		"Accept":               "application/vnd.github+json",
		"Authorization":        "Bearer " + testToken,
		"X-GitHub-Api-Version": "2022-11-28",
	} {
		if got := r.Header.Get(name); got != want {
			f.t.Errorf("%s: %s %q, want %q", call, name, got, want)
		}
	}
	if r.Header.Get("User-Agent") == "" {
		f.t.Errorf("%s: no User-Agent (GitHub refuses requests without one)", call)
	}
	if f.fail != nil {
		if status, header, body, ok := f.fail(call, n); ok {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
	}
	switch {
	case r.Method == http.MethodGet && (f.matches(listPath, r.URL.Path) || pagedPath.MatchString(r.URL.Path)):
		f.list(w, r)
	case r.Method == http.MethodPost && f.matches(listPath, r.URL.Path):
		body, ok := f.body(w, r)
		if !ok {
			return
		}
		f.nextID++
		c := Comment{ID: f.nextID, Body: body, HTMLURL: f.htmlURL(f.nextID)}
		f.comments = append(f.comments, c)
		if f.lost != nil && f.lost(n) {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(c)
	case r.Method == http.MethodPatch && updatePath.MatchString(r.URL.Path):
		m := updatePath.FindStringSubmatch(r.URL.Path)
		if m[1] != f.owner || m[2] != f.repo {
			f.notFound(w, call)
			return
		}
		id, _ := strconv.ParseInt(m[3], 10, 64)
		body, ok := f.body(w, r)
		if !ok {
			return
		}
		for i := range f.comments {
			if f.comments[i].ID == id {
				f.comments[i].Body = body
				_ = json.NewEncoder(w).Encode(f.comments[i])
				return
			}
		}
		f.notFound(w, call)
	default:
		f.notFound(w, call)
	}
}

func (f *fakeGitHub) matches(re *regexp.Regexp, path string) bool {
	m := re.FindStringSubmatch(path)
	return m != nil && m[1] == f.owner && m[2] == f.repo && m[3] == strconv.Itoa(f.pr)
}

func (f *fakeGitHub) notFound(w http.ResponseWriter, call string) {
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
	f.t.Logf("fake GitHub: 404 for %s", call)
}

// body reads a create or update: JSON with exactly one field, body.
func (f *fakeGitHub) body(w http.ResponseWriter, r *http.Request) (string, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q, want application/json", r.Method, r.URL.Path, ct)
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		f.t.Errorf("%s %s: body is not JSON: %v", r.Method, r.URL.Path, err)
	}
	body, ok := in["body"].(string)
	if !ok || len(in) != 1 {
		f.t.Errorf("%s %s: JSON %v, want exactly {\"body\": string}", r.Method, r.URL.Path, in)
	}
	if utf8.RuneCountInString(body) > MaxBodyChars {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"}]}`)
		return "", false
	}
	return body, true
}

func (f *fakeGitHub) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100, f.perPage)
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	from, to := min((page-1)*per, len(f.comments)), min(page*per, len(f.comments))
	last := max((len(f.comments)+per-1)/per, 1)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s/repositories/7/issues/%d/comments?per_page=%d&page=%d>; rel="%s"`, f.srv.URL, f.pr, per, p, rel)
	}
	if page < last {
		w.Header().Set("Link", link(page+1, "next")+", "+link(last, "last"))
	} else if page > 1 {
		w.Header().Set("Link", link(page-1, "prev")+", "+link(1, "first"))
	}
	_ = json.NewEncoder(w).Encode(f.comments[from:to])
}
