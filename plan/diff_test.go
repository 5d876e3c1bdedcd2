package plan

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
)

func loadExample(t testing.TB) *configs.Config {
	t.Helper()
	opts := configs.DefaultOptions()
	opts.RepoPath = "../configs/examples/aro-hcp-dev"
	cfg, err := configs.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func ensureNamespaces(t *testing.T, manifests []configs.Manifest) {
	t.Helper()
	for _, m := range manifests {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: m.GetNamespace()}}
		if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

func count(changes []ObjectChange) map[ObjectAction]int {
	out := map[ObjectAction]int{}
	for _, c := range changes {
		out[c.Action]++
	}
	return out
}

func TestDiffManifestsUsesServerSideDryRunAndIgnoresOtherManagersFields(t *testing.T) {
	ctx := context.Background()
	cfg := loadExample(t)
	ensureNamespaces(t, cfg.Manifests)
	rm := ssa.NewResourceManager(env.Client, polling.NewStatusPoller(env.Client, env.Mapper, polling.Options{}),
		ssa.Owner{Field: "meshops", Group: "meshops.io"})

	changes, err := DiffManifests(ctx, rm, env.Config, cfg.Manifests, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(changes); got[ObjectCreate] != len(cfg.Manifests) {
		t.Fatalf("first diff: %v, want %d creates", got, len(cfg.Manifests))
	}
	for _, c := range changes {
		if !strings.Contains(c.Diff, "+++ git/"+c.Manifest.ID()) || !strings.Contains(c.Diff, "+  name: "+c.Manifest.GetName()) {
			t.Errorf("create of %s shows no diff of the whole object:\n%s", c.Manifest.ID(), c.Diff)
		}
	}
	var objs []*unstructured.Unstructured
	for _, m := range cfg.Manifests {
		objs = append(objs, m.Unstructured())
	}
	if _, err := rm.ApplyAllStaged(ctx, objs, ssa.DefaultApplyOptions()); err != nil {
		t.Fatal(err)
	}
	if changes, err = DiffManifests(ctx, rm, env.Config, cfg.Manifests, nil); err != nil {
		t.Fatal(err)
	}
	if got := count(changes); got[ObjectUnchanged] != len(cfg.Manifests) {
		t.Fatalf("diff after apply: %v, want all unchanged", got)
	}

	// Someone edits a field meshops owns, and another manager adds a label
	// meshops does not set: only the first is drift.
	ap := &unstructured.Unstructured{}
	ap.SetAPIVersion("security.istio.io/v1")
	ap.SetKind("AuthorizationPolicy")
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "maestro", Name: "allow-cluster-service"}, ap); err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(ap.Object, "spec", "rules")
	from := rules[0].(map[string]any)["from"].([]any)
	from[0].(map[string]any)["source"].(map[string]any)["principals"] = []any{"cluster.local/ns/attacker/sa/default"}
	_ = unstructured.SetNestedSlice(ap.Object, rules, "spec", "rules")
	if err := env.Client.Update(ctx, ap, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	pa := &unstructured.Unstructured{}
	pa.SetAPIVersion("security.istio.io/v1beta1")
	pa.SetKind("PeerAuthentication")
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "maestro", Name: "default"}, pa); err != nil {
		t.Fatal(err)
	}
	pa.SetLabels(map[string]string{"team": "maestro"})
	if err := env.Client.Update(ctx, pa, client.FieldOwner("other-controller")); err != nil {
		t.Fatal(err)
	}

	if changes, err = DiffManifests(ctx, rm, env.Config, cfg.Manifests, nil); err != nil {
		t.Fatal(err)
	}
	var updated []string
	for _, c := range changes {
		if c.Action == ObjectUpdate {
			updated = append(updated, c.Manifest.ID())
			if !strings.Contains(c.Diff, "-        - cluster.local/ns/attacker/sa/default") ||
				!strings.Contains(c.Diff, "+        - cluster.local/ns/clusters-service/sa/clusters-service") {
				t.Errorf("diff does not show the principal coming back:\n%s", c.Diff)
			}
		}
	}
	if strings.Join(updated, ",") != "AuthorizationPolicy/maestro/allow-cluster-service" {
		t.Errorf("updated = %v, want only the hand-edited policy (the other manager's label is not drift)", updated)
	}
}

func TestDiffManifestsNamesTheFileOfASchemaError(t *testing.T) {
	cfg := loadExample(t)
	ensureNamespaces(t, cfg.Manifests)
	rm := ssa.NewResourceManager(env.Client, polling.NewStatusPoller(env.Client, env.Mapper, polling.Options{}),
		ssa.Owner{Field: "meshops", Group: "meshops.io"})
	u := cfg.Manifests[1].Unstructured()
	u.SetName("schema-error")
	_ = unstructured.SetNestedField(u.Object, "MAYBE", "spec", "action")
	bad := manifestOf(t, u, cfg.Manifests[1].Source)
	_, err := DiffManifests(context.Background(), rm, env.Config, []configs.Manifest{bad}, nil)
	if err == nil {
		t.Fatal("a policy with action MAYBE passed the dry run")
	}
	if !strings.Contains(err.Error(), bad.Source.String()) || !strings.Contains(err.Error(), "spec.action") {
		t.Errorf("error must name the file and field: %v", err)
	}
}

func TestMaskHidesSecretValuesButNotPolicyKeys(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "creds", "annotations": map[string]any{"bearerToken": "abc", "owner": "team"}},
		"data":     map[string]any{"tls.crt": "Y2VydA==", "anything": "c2VjcmV0"},
	}}
	Mask(u)
	if u.Object["data"].(map[string]any)["anything"] != MaskMarker || u.GetAnnotations()["bearerToken"] != MaskMarker {
		t.Errorf("secret values shown: %v", u.Object)
	}
	if u.GetAnnotations()["owner"] != "team" || u.GetName() != "creds" {
		t.Errorf("non-secret metadata masked: %v", u.Object["metadata"])
	}

	ap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"name": "p"},
		"spec": map[string]any{
			"rules":  []any{map[string]any{"when": []any{map[string]any{"key": "request.auth.claims[iss]", "values": []any{"x"}}}}},
			"config": map[string]any{"clientSecret": "s3cr3t", "apiKey": "k", "password": "p", "secretName": "ref", "tls.key": "pem"},
		},
	}}
	Mask(ap)
	cfg := ap.Object["spec"].(map[string]any)["config"].(map[string]any)
	for _, k := range []string{"clientSecret", "apiKey", "password", "tls.key"} {
		if cfg[k] != MaskMarker {
			t.Errorf("%s = %v, want masked", k, cfg[k])
		}
	}
	if cfg["secretName"] != "ref" {
		t.Errorf("secretName is a reference, not a secret: got %v", cfg["secretName"])
	}
	when := ap.Object["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["when"].([]any)[0].(map[string]any)
	if when["key"] != "request.auth.claims[iss]" {
		t.Errorf("a policy condition key was masked: %v", when)
	}
}

func TestSameJSONComparesAsEncodedJSONWithoutEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b any
		same bool
	}{
		{"empty and missing", map[string]any{}, nil, true},
		{"int64 and float64 numbers", map[string]any{"n": int64(8)}, map[string]any{"n": float64(8)}, true},
		{"field added by hand", map[string]any{"action": "AUDIT"}, map[string]any{}, false},
		{"rules added to a default deny", map[string]any{"rules": []any{map[string]any{}}}, nil, false},
		{"nested numbers by value", map[string]any{"p": []any{int64(443), 1.5}}, map[string]any{"p": []any{float64(443), 1.5}}, true},
		{"nested number differs", map[string]any{"p": []any{int64(443)}}, map[string]any{"p": []any{int64(8443)}}, false},
		{"number is not its string", map[string]any{"p": int64(443)}, map[string]any{"p": "443"}, false},
		{"nested empty list is not absent", map[string]any{"rules": []any{}}, map[string]any{}, false},
		{"nested empty map is not null", map[string]any{"s": map[string]any{}}, map[string]any{"s": nil}, false},
		{"nested nil map is null", map[string]any{"s": map[string]any(nil)}, map[string]any{"s": nil}, true},
		{"list order matters", []any{"a", "b"}, []any{"b", "a"}, false},
		{"extra key", map[string]any{"a": true}, map[string]any{"a": true, "b": false}, false},
		{"bools", map[string]any{"a": true}, map[string]any{"a": false}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameJSON(tc.a, tc.b); got != tc.same {
				t.Errorf("sameJSON(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
}

// A steady-state diff costs one list per kind: objects that already hold
// what git says need no dry run, so 40 policies cost what 10 do.
func TestDiffManifestsOfUnchangedObjectsCostsOneListPerKind(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	c, n, streams := env.CountingClient(t)
	live := env.CountingConfig(n, streams, false)
	rm := ssa.NewResourceManager(c, polling.NewStatusPoller(c, env.Mapper, polling.Options{}), ssa.Owner{Field: "meshops", Group: "meshops.io"})
	manifests := func(count int) []configs.Manifest {
		var out []configs.Manifest
		for i := range count {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
				"metadata": map[string]any{"namespace": ns, "name": fmt.Sprintf("allow-%d", i)},
				"spec": map[string]any{"action": "ALLOW", "rules": []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{
					"principals": []any{fmt.Sprintf("cluster.local/ns/%s/sa/w%d", ns, i)}}}}}}},
			}}
			if _, err := rm.Apply(ctx, u.DeepCopy(), ssa.DefaultApplyOptions()); err != nil {
				t.Fatal(err)
			}
			out = append(out, manifestOf(t, u, configs.Source{}))
		}
		return out
	}
	cost := func(ms []configs.Manifest) int64 {
		before := n.Load()
		changes, err := DiffManifests(ctx, rm, live, ms, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := count(changes); got[ObjectUnchanged] != len(ms) {
			t.Fatalf("diff of applied objects: %v, want all unchanged", got)
		}
		return n.Load() - before
	}
	small, large := cost(manifests(10)), cost(manifests(40))
	if small != 1 || large != 1 {
		t.Errorf("steady-state diff made %d requests for 10 policies and %d for 40; want 1 (one list per kind)", small, large)
	}
}

func TestHoldsNeedsEveryFieldOfGitAndTheOwnerLabels(t *testing.T) {
	obj := func(labels map[string]any, spec map[string]any, extra ...string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"metadata": map[string]any{"name": "p", "namespace": "n", "labels": labels},
			"spec":     spec,
		}}
		for _, f := range extra {
			u.Object[f] = map[string]any{"x": "y"}
		}
		return u
	}
	owner := map[string]string{"meshops.io/name": "meshops-state", "meshops.io/namespace": "meshops-system"}
	allOwner := map[string]any{"app": "a", "meshops.io/name": "meshops-state", "meshops.io/namespace": "meshops-system"}
	want := obj(map[string]any{"app": "a"}, map[string]any{"action": "ALLOW"})
	for _, tc := range []struct {
		name  string
		live  *unstructured.Unstructured
		owner map[string]string
		holds bool
	}{
		{"same fields and labels, owner labels present", obj(allOwner, map[string]any{"action": "ALLOW"}), owner, true},
		{"owner labels missing (applied by someone else)", obj(map[string]any{"app": "a"}, map[string]any{"action": "ALLOW"}), owner, false},
		{"no owner asked", obj(map[string]any{"app": "a"}, map[string]any{"action": "ALLOW"}), nil, true},
		{"git's label missing", obj(map[string]any{"meshops.io/name": "meshops-state", "meshops.io/namespace": "meshops-system"}, map[string]any{"action": "ALLOW"}), owner, false},
		{"spec differs", obj(allOwner, map[string]any{"action": "DENY"}), owner, false},
		{"a top-level field git does not have", obj(allOwner, map[string]any{"action": "ALLOW"}, "data"), owner, false},
		{"status is the server's", obj(allOwner, map[string]any{"action": "ALLOW"}, "status"), owner, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := holds(tc.live, want, tc.owner); got != tc.holds {
				t.Errorf("holds = %v, want %v", got, tc.holds)
			}
		})
	}
}

// manifestOf is the manifest of u, as if loaded from src.
func manifestOf(t testing.TB, u *unstructured.Unstructured, src configs.Source) configs.Manifest {
	t.Helper()
	m, err := configs.NewManifest(u, src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
