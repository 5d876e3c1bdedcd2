package apply_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A rule of a policy git holds, changed by hand with kubectl (edit, patch,
// an old client-side apply), is drift: plan says to restore it from git,
// and sync does, without --force-conflicts, taking the field back from
// kubectl's manager. Another tool's server-side apply still stops the run
// (TestFieldConflictStopsBeforeAnyChangeNamingManagerAndField).
func TestRulesChangedByHandWithKubectlAreRestoredFromGitWithoutForce(t *testing.T) {
	ctx := context.Background()
	for _, manager := range []string{"kubectl-edit", "kubectl-patch", "kubectl-client-side-apply"} {
		t.Run(manager, func(t *testing.T) {
			f := newMesh(t, 2)
			f.writeRepo("asm-1-28")
			f.onTag("asm-1-28")
			if _, _, err := f.sync(ctx, "c1", nil); err != nil {
				t.Fatalf("first sync: %v", err)
			}
			live := &unstructured.Unstructured{}
			live.SetAPIVersion("security.istio.io/v1")
			live.SetKind("AuthorizationPolicy")
			key := client.ObjectKey{Namespace: f.namespaces[1], Name: "allow-peer"}
			if err := f.cluster.Client.Get(ctx, key, live); err != nil {
				t.Fatal(err)
			}
			gitRules, _, _ := unstructured.NestedSlice(live.Object, "spec", "rules")
			intruder := []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{"principals": []any{"cluster.local/ns/x/sa/intruder"}}}}}}
			if err := unstructured.SetNestedSlice(live.Object, intruder, "spec", "rules"); err != nil {
				t.Fatal(err)
			}
			if err := f.cluster.Client.Update(ctx, live, client.FieldOwner(manager)); err != nil {
				t.Fatalf("hand edit as %s: %v", manager, err)
			}

			if _, _, err := f.sync(ctx, "c1", nil); err != nil {
				t.Fatalf("sync after a hand edit by %s: %v", manager, err)
			}
			if err := f.cluster.Client.Get(ctx, key, live); err != nil {
				t.Fatal(err)
			}
			got, _, _ := unstructured.NestedSlice(live.Object, "spec", "rules")
			if strings.Contains(toJSON(t, got), "intruder") || toJSON(t, got) != toJSON(t, gitRules) {
				t.Errorf("rules after sync: %s; want git's %s", toJSON(t, got), toJSON(t, gitRules))
			}
			for _, e := range live.GetManagedFields() {
				if e.Manager == manager {
					t.Errorf("%s still manages fields after the sync: %s", manager, e.FieldsV1.String())
				}
			}
		})
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
