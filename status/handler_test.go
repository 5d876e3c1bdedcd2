package status

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func serve(t *testing.T, source func(context.Context) (Report, error)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(source))
	t.Cleanup(srv.Close)
	return srv
}

func fixed(r Report) func(context.Context) (Report, error) {
	return func(context.Context) (Report, error) { return r, nil }
}

// get fetches the page and parses it as a browser would.
func get(t *testing.T, url string) (*http.Response, *html.Node) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc
}

// find returns every element below n that match.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(doc *html.Node, id string) *html.Node {
	found := find(doc, func(n *html.Node) bool { return attr(n, "id") == id })
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// rows is a table's cells as text, row by row, header row included.
func rows(table *html.Node) [][]string {
	var out [][]string
	for _, tr := range find(table, func(n *html.Node) bool { return n.DataAtom == atom.Tr }) {
		var cells []string
		for _, c := range find(tr, func(n *html.Node) bool { return n.DataAtom == atom.Td || n.DataAtom == atom.Th }) {
			cells = append(cells, text(c))
		}
		out = append(out, cells)
	}
	return out
}

func TestStatusPageShowsTheReportAsTables(t *testing.T) {
	srv := serve(t, fixed(upgrading()))
	resp, doc := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if got := rows(byID(doc, "tag")); !reflect.DeepEqual(got, [][]string{{"tag", "revision", "status"}, {"prod-stable", "asm-1-29", "found"}}) {
		t.Errorf("tag table %q", got)
	}
	wantRevisions := [][]string{
		{"revision", "tags", "istiod", "in versions", "workloads", "pods", "reason"},
		{"asm-1-28", "-", "healthy", "no", "2", "2", "istiod-asm-1-28: 1/1 ready, injector present"},
		{"asm-1-29", "prod-stable", "healthy", "yes", "2", "3", "istiod-asm-1-29: 1/1 ready, injector present"},
		{"unknown", "-", "-", "-", "1", "1", "the proxy names no revision (see the note below)"},
	}
	if got := rows(byID(doc, "revisions")); !reflect.DeepEqual(got, wantRevisions) {
		t.Errorf("revisions table\n got %q\nwant %q", got, wantRevisions)
	}
	wantStragglers := [][]string{
		{"workload", "revisions", "pods", "why"},
		{"Deployment/app/worker", "asm-1-28", "1", "on tag prod-stable, which points at asm-1-29: a restart moves it"},
		{"Deployment/legacy/gateway", "unknown", "1", "a proxy that names no revision (unknown)"},
	}
	if got := rows(byID(doc, "stragglers")); !reflect.DeepEqual(got, wantStragglers) {
		t.Errorf("stragglers table\n got %q\nwant %q", got, wantStragglers)
	}
	if n := byID(doc, "unknown"); n == nil || !strings.Contains(text(n), "names no revision") {
		t.Error("the page does not explain the unknown revision")
	}
	record := map[string]string{}
	for _, r := range rows(byID(doc, "record")) {
		record[r[0]] = r[1]
	}
	for k, want := range map[string]string{
		"suspended":           "false",
		"last result":         "failed",
		"last applied commit": "c42a84d0f079",
		"next run":            "2026-11-28T10:03:00Z (in 3m0s)",
		"bad revision":        "asm-1-27 at commit 0a1b2c3d4e5f, 2026-11-26T10:00:00Z (48h0m0s ago): verify failed",
		"rollout in progress": "asm-1-28 → asm-1-29 at commit a296660631f9, step 7 (Deployment/app/worker), workloads moved: 1, started 2026-11-28T09:58:30Z (1m30s ago)",
	} {
		if record[k] != want {
			t.Errorf("record %q = %q, want %q", k, record[k], want)
		}
	}
	if !strings.HasPrefix(record["git source error"], "fetching origin: connection refused") {
		t.Errorf("git source error %q", record["git source error"])
	}
}

func TestStatusPageEscapesRecordTextAndRunsNoScript(t *testing.T) {
	srv := serve(t, fixed(upgrading()))
	resp, doc := get(t, srv.URL+"/")
	if scripts := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Script }); len(scripts) != 0 {
		t.Errorf("the page has %d script elements; record text reached it unescaped", len(scripts))
	}
	record := map[string]string{}
	for _, r := range rows(byID(doc, "record")) {
		record[r[0]] = r[1]
	}
	if want := `Deployment/app/worker restart failed: <script>alert("x")</script>`; record["last error"] != want {
		t.Errorf("last error %q, want the text shown as text: %q", record["last error"], want)
	}
	for _, n := range find(doc, func(n *html.Node) bool { return len(n.Attr) > 0 }) {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has an event handler %s", n.Data, a.Key)
			}
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q: a browser would run a script that slipped through", csp)
	}
	refresh := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Meta && attr(n, "http-equiv") == "refresh" })
	if len(refresh) != 1 || attr(refresh[0], "content") != "10" {
		t.Errorf("want one meta refresh of 10 s, got %d", len(refresh))
	}
}

func TestStatusPageAnswersOnlyReads(t *testing.T) {
	srv := serve(t, fixed(upgrading()))
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, _ := http.NewRequest(method, srv.URL+"/", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q; want 405 with Allow: GET, HEAD", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	head, err := http.Head(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK {
		t.Errorf("HEAD: status %d, want 200", head.StatusCode)
	}
	resp, err := http.Get(srv.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/other: status %d, want 404", resp.StatusCode)
	}
}

func TestStatusPageSays503WhenTheClusterCannotBeRead(t *testing.T) {
	srv := serve(t, func(context.Context) (Report, error) {
		return Report{}, errors.New(`listing Pods: Get "https://meshops:s3cr3t-t0ken-value@10.0.0.1/api": connection refused`)
	})
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q: an error is plain text", ct)
	}
	if !strings.HasPrefix(string(body), "status unavailable: listing Pods") {
		t.Errorf("body %q", body)
	}
	if strings.Contains(string(body), "s3cr3t-t0ken-value") {
		t.Errorf("the credential in the error reached the page: %q", body)
	}
}
