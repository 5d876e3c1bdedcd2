package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
)

// holdsJSON says "holds" only where holds, on the decoded objects, says so
// too; where bytes alone cannot tell, it says no and holds decides.
func TestHoldsJSONComparesFieldsByteForByteAndMetadataAsHoldsDoes(t *testing.T) {
	want := manifestOf(t, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"name": "p", "namespace": "n", "labels": map[string]any{"app": "a"}, "annotations": map[string]any{"note": "x"}},
		"spec": map[string]any{"action": "ALLOW", "rules": []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{
			"ports": []any{"8080"}, "paths": []any{"/a<b>&c"}}}}}}},
	}}, configs.Source{})
	owner := map[string]string{"meshops.io/name": "meshops-state", "meshops.io/namespace": "meshops-system"}
	const spec = `{"action":"ALLOW","rules":[{"to":[{"operation":{"paths":["/a\u003cb\u003e\u0026c"],"ports":["8080"]}}]}]}`
	const meta = `{"name":"p","namespace":"n","labels":{"app":"a","meshops.io/name":"meshops-state","meshops.io/namespace":"meshops-system"},"annotations":{"note":"x"},` +
		`"managedFields":[{"manager":"meshops","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]}`
	obj := func(meta, rest string) string {
		return `{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":` + meta + rest + `}`
	}
	for _, tc := range []struct {
		name      string
		live      string
		owner     map[string]string
		holdsJSON bool
		holds     bool // the decoded rule's answer
	}{
		{"every field equal, owner labels present", obj(meta, `,"spec":`+spec), owner, true, true},
		{"no owner asked", obj(meta, `,"spec":`+spec), nil, true, true},
		{"a differing field", obj(meta, `,"spec":{"action":"DENY"}`), owner, false, false},
		{"git's field missing live", obj(meta, ``), owner, false, false},
		{"a live field git does not have", obj(meta, `,"spec":`+spec+`,"data":{"x":"y"}`), owner, false, false},
		{"status is the server's", obj(meta, `,"spec":`+spec+`,"status":{"x":"y"}`), owner, true, true},
		{"the same value written otherwise", obj(meta, `,"spec":{"rules":[{"to":[{"operation":{"ports":["8080"],"paths":["/a<b>&c"]}}]}],"action":"ALLOW"}`), owner, false, true},
		{"more live labels and annotations than git's", obj(`{"name":"p","namespace":"n","labels":{"app":"a","team":"t","meshops.io/name":"meshops-state","meshops.io/namespace":"meshops-system"},"annotations":{"note":"x","other":"y"}}`, `,"spec":`+spec), owner, true, true},
		{"git's label missing", obj(`{"name":"p","namespace":"n","labels":{"meshops.io/name":"meshops-state","meshops.io/namespace":"meshops-system"},"annotations":{"note":"x"}}`, `,"spec":`+spec), owner, false, false},
		{"git's label with another value", obj(`{"name":"p","namespace":"n","labels":{"app":"b","meshops.io/name":"meshops-state","meshops.io/namespace":"meshops-system"},"annotations":{"note":"x"}}`, `,"spec":`+spec), owner, false, false},
		{"owner labels missing (applied by someone else)", obj(`{"name":"p","namespace":"n","labels":{"app":"a"},"annotations":{"note":"x"}}`, `,"spec":`+spec), owner, false, false},
		{"git's annotation missing", obj(`{"name":"p","namespace":"n","labels":{"app":"a","meshops.io/name":"meshops-state","meshops.io/namespace":"meshops-system"}}`, `,"spec":`+spec), owner, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live, err := parseLive([]byte(tc.live))
			if err != nil {
				t.Fatal(err)
			}
			if got := holdsJSON(live, manifestFields(want), want.GetLabels(), want.GetAnnotations(), tc.owner); got != tc.holdsJSON {
				t.Errorf("holdsJSON = %v, want %v", got, tc.holdsJSON)
			}
			u, err := decodeLive([]byte(tc.live), want.GroupVersionKind())
			if err != nil {
				t.Fatal(err)
			}
			if got := holds(u, want.Unstructured(), tc.owner); got != tc.holds {
				t.Errorf("holds = %v, want %v", got, tc.holds)
			}
		})
	}
}

// The live objects compared as their JSON find what the decoded stream
// finds, object by object: unchanged, differing (with the live object that
// the whole-spec diff shows) and touched by another manager.
func TestCompareLiveFindsTheSameFromJSONAsFromDecodedObjects(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	owner := map[string]string{"meshops.io/name": "meshops-state", "meshops.io/namespace": "meshops-system"}
	rm := ssa.NewResourceManager(env.Client, polling.NewStatusPoller(env.Client, env.Mapper, polling.Options{}), ssa.Owner{Field: FieldManager, Group: "meshops.io"})
	policy := func(name string, paths ...any) configs.Manifest {
		return manifestOf(t, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"metadata": map[string]any{"namespace": ns, "name": name, "labels": map[string]any{"app": name}},
			"spec": map[string]any{"action": "ALLOW", "rules": []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{
				"paths": paths, "ports": []any{"8080"}}}}}}},
		}}, configs.Source{})
	}
	configMap := func(name, value string) configs.Manifest {
		return manifestOf(t, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"namespace": ns, "name": name},
			"data":     map[string]any{"mesh": value},
		}}, configs.Source{})
	}
	apply := func(m configs.Manifest) {
		t.Helper()
		if _, err := rm.Apply(ctx, m.WithLabels(owner).Unstructured(), ssa.DefaultApplyOptions()); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(m configs.Manifest, manager string, change func(u *unstructured.Unstructured)) {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(m.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: m.GetName()}, u); err != nil {
			t.Fatal(err)
		}
		change(u)
		if err := env.Client.Update(ctx, u, client.FieldOwner(manager)); err != nil {
			t.Fatal(err)
		}
	}
	manifests := []configs.Manifest{
		policy("unchanged", "/a"),
		policy("escaped", "/a<b>&c"), // encoding/json escapes <, > and &
		policy("rule-added-by-hand", "/a"),
		policy("changed-in-git", "/new"),
		policy("label-removed-by-hand", "/a"),
		policy("not-applied", "/a"),
		configMap("mesh-unchanged", "a: 1"),
		configMap("mesh-changed-in-git", "a: 2"),
	}
	for _, m := range manifests[:5] {
		apply(m)
	}
	apply(policy("changed-in-git", "/old"))
	apply(manifests[6])
	apply(configMap("mesh-changed-in-git", "a: 1"))
	edit(manifests[2], "kubectl-edit", func(u *unstructured.Unstructured) {
		rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
		_ = unstructured.SetNestedSlice(u.Object, append(rules, map[string]any{}), "spec", "rules")
	})
	edit(manifests[4], "kubectl-edit", func(u *unstructured.Unstructured) {
		labels := u.GetLabels()
		delete(labels, "app")
		u.SetLabels(labels)
	})

	decoded := compareLive(ctx, env.Client, nil, manifests, owner)
	asJSON := compareLive(ctx, env.Client, env.Config, manifests, owner)
	describe := func(c liveComparison) string {
		var out string
		for i, m := range manifests {
			out += fmt.Sprintf("%s unchanged=%v differing=%v foreign=%v\n", m.GetName(), c.unchanged[i], c.differing[i] != nil, c.foreign[i])
		}
		return out
	}
	want := `unchanged unchanged=true differing=false foreign=false
escaped unchanged=true differing=false foreign=false
rule-added-by-hand unchanged=false differing=true foreign=true
changed-in-git unchanged=false differing=true foreign=false
label-removed-by-hand unchanged=false differing=true foreign=false
not-applied unchanged=false differing=false foreign=false
mesh-unchanged unchanged=true differing=false foreign=false
mesh-changed-in-git unchanged=false differing=false foreign=false
`
	if got := describe(decoded); got != want {
		t.Errorf("decoded objects:\n%s\nwant:\n%s", got, want)
	}
	if got := describe(asJSON); got != want {
		t.Errorf("objects as JSON:\n%s\nwant:\n%s", got, want)
	}
	for _, i := range slices.Sorted(maps.Keys(decoded.differing)) {
		d, j := decoded.differing[i], asJSON.differing[i]
		if j == nil {
			continue // reported above
		}
		a, err := diffYAML(d)
		if err != nil {
			t.Fatal(err)
		}
		b, err := diffYAML(j)
		if err != nil {
			t.Fatal(err)
		}
		if a != b || d.GetManagedFields() != nil || j.GetManagedFields() != nil {
			t.Errorf("%s: live object decoded:\n%s\nfrom JSON:\n%s", manifests[i].GetName(), a, b)
		}
	}
}

// jsonMembers splits an object as encoding/json does, without copying.
func TestJSONMembersSplitsAnObjectAsEncodingJSONDoes(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		split      bool // false: left to encoding/json
	}{
		{"compact", `{"apiVersion":"v1","kind":"X","metadata":{"name":"a","labels":{"k":"v"}},"spec":{"a":[1,2.5e3,true,false,null,"s"]}}`, true},
		{"empty", `{}`, true},
		{"spaced", " { \"a\" : 1 ,\n\t\"b\" : [ ] , \"c\":{ } } ", true},
		{"brackets and quotes in strings", `{"a":"}]{[","b":{"c":"\"}\\","d":["]"]},"e":"\\"}`, true},
		{"escaped value", `{"a":"\u003cb\u003e","b":-1}`, true},
		{"scalars last", `{"a":true,"b":null,"c":-0.5}`, true},
		{"an escaped key", `{"a\u0062":1}`, false},
		{"not an object", `[1,2]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]json.RawMessage{}
			split := jsonMembers([]byte(tc.data), func(key, value []byte) bool {
				got[string(key)] = value
				return true
			})
			if split != tc.split {
				t.Fatalf("split = %v, want %v", split, tc.split)
			}
			if !split {
				return
			}
			var want map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.data), &want); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Errorf("members:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// A server that blinks while the policies stream (its first stream and
// List answered 503) costs a second stream, not a dry run per policy.
func TestCompareLiveRetriesAKindWhoseStreamFailedForAMoment(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	rm := ssa.NewResourceManager(env.Client, polling.NewStatusPoller(env.Client, env.Mapper, polling.Options{}), ssa.Owner{Field: FieldManager, Group: "meshops.io"})
	var manifests []configs.Manifest
	for i := range 3 {
		m := manifestOf(t, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"metadata": map[string]any{"namespace": ns, "name": fmt.Sprintf("allow-%d", i)},
			"spec":     map[string]any{"action": "ALLOW"},
		}}, configs.Source{})
		if _, err := rm.Apply(ctx, m.Unstructured(), ssa.DefaultApplyOptions()); err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, m)
	}
	var failed atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if failed.Add(1) > 2 {
				return rt.RoundTrip(r)
			}
			body := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server is restarting","reason":"ServiceUnavailable","code":503}`
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
	})
	got := compareLive(ctx, env.Client, cfg, manifests, nil)
	if !slices.Equal(got.unchanged, []bool{true, true, true}) {
		t.Errorf("unchanged = %v after a blink of the server, want all (the stream tried again)", got.unchanged)
	}
	if n := failed.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (a failed stream, a failed List, a stream)", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAComparisonNarrowedToSomeManifestsKeepsEachOnesResult(t *testing.T) {
	a, b := &unstructured.Unstructured{}, &unstructured.Unstructured{}
	all := liveComparison{
		unchanged: []bool{true, false, false, true},
		differing: map[int]*unstructured.Unstructured{1: a, 2: b},
		foreign:   map[int]bool{2: true},
	}
	got := all.only([]int{2, 3})
	if !slices.Equal(got.unchanged, []bool{false, true}) {
		t.Errorf("unchanged = %v, want [false true]", got.unchanged)
	}
	if len(got.differing) != 1 || got.differing[0] != b {
		t.Errorf("differing = %v, want only the third manifest's live object, at 0", got.differing)
	}
	if len(got.foreign) != 1 || !got.foreign[0] {
		t.Errorf("foreign = %v, want {0: true}", got.foreign)
	}
}

// FuzzJSONMembers: on any valid JSON, jsonMembers either leaves the value
// to encoding/json or splits it into exactly the members encoding/json
// finds. The seeds run with go test; fuzz with
// go test ./plan -run '^$' -fuzz FuzzJSONMembers.
func FuzzJSONMembers(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"X","metadata":{"name":"a","labels":{"k":"v"}},"spec":{"a":[1,2.5e3,true,false,null,"s"]}}`,
		`{}`, " { \"a\" : 1 ,\n\t\"b\" : [ ] , \"c\":{ } } ", `{"a":"}]{[","b":{"c":"\"}\\","d":["]"]},"e":"\\"}`,
		`{"a":"\u003cb\u003e","b":-1}`, `{"a":true,"b":null,"c":-0.5}`, `{"a\u0062":1}`, `[1,2]`, `{"a":1,"a":2}`, `"s"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // jsonMembers is only ever given JSON a decoder checked
		}
		got := map[string]json.RawMessage{}
		if !jsonMembers(data, func(key, value []byte) bool {
			got[string(key)] = value
			return true
		}) {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("jsonMembers split %q, which encoding/json does not read as an object: %v", data, err)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("members of %q:\n got %q\nwant %q", data, got, want)
		}
	})
}
