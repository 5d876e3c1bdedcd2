package plan

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/observe"
)

// refusingStreams is a client on a server with the WatchList feature off
// (Kubernetes 1.33's default): a watch that asks for the initial objects is
// refused, as that API server refuses it.
type refusingStreams struct{ client.WithWatch }

func (r refusingStreams) Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "",
		field.ErrorList{field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled")})
}

// listOnly is a client without watch at all.
type listOnly struct{ client.Reader }

// Observe and the manifest diff stream their lists, and see the same
// cluster through a server that refuses streams or a client that cannot
// watch: they fall back to one List.
func TestObserveAndDiffSeeTheSameWithAndWithoutStreamingLists(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, map[string]string{"istio.io/rev": "prod-stable"})
	env.SeedWorkloads(t, ns, "asm-1-28")

	streaming, requests, streams := env.CountingClient(t)
	rm := ssa.NewResourceManager(streaming, polling.NewStatusPoller(streaming, env.Mapper, polling.Options{}), ssa.Owner{Field: "meshops", Group: "meshops.io"})
	var manifests []configs.Manifest
	for i := range 3 {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"metadata": map[string]any{"namespace": ns, "name": fmt.Sprintf("allow-%d", i)},
			"spec":     map[string]any{"action": "ALLOW", "rules": []any{map[string]any{}}},
		}}
		if i < 2 {
			if _, err := rm.Apply(ctx, u.DeepCopy(), ssa.DefaultApplyOptions()); err != nil {
				t.Fatal(err)
			}
		}
		manifests = append(manifests, manifestOf(t, u, configs.Source{}))
	}
	// allow-1 drifted: a rule added by hand. allow-2 is not there yet.
	drifted := &unstructured.Unstructured{}
	drifted.SetGroupVersionKind(schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "allow-1"}, drifted); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(drifted.Object, "AUDIT", "spec", "action"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, drifted, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}

	see := func(name string, c client.Reader, withWatch client.WithWatch, live *rest.Config) string {
		t.Helper()
		snap, err := observe.Observe(ctx, c, observe.DefaultOptions())
		if err != nil {
			t.Fatalf("%s: observe: %v", name, err)
		}
		var out string
		for _, w := range snap.Workloads {
			if w.Namespace == ns {
				out += fmt.Sprintf("%s %v\n", w.Ref().String(), w.Revisions())
			}
		}
		rm := ssa.NewResourceManager(withWatch, polling.NewStatusPoller(withWatch, env.Mapper, polling.Options{}), ssa.Owner{Field: "meshops", Group: "meshops.io"})
		changes, err := DiffManifests(ctx, rm, live, manifests, nil)
		if err != nil {
			t.Fatalf("%s: diff: %v", name, err)
		}
		for _, ch := range changes {
			out += fmt.Sprintf("%s %s replace=%v\n", ch.Manifest.GetName(), ch.Action, ch.Replace)
		}
		return out
	}
	before := streams.Load()
	want := see("streaming", streaming, streaming, env.CountingConfig(requests, streams, false))
	if got := streams.Load() - before; got != 4 {
		t.Errorf("%d streaming lists, want 4 (Pods, ReplicaSets, Jobs, AuthorizationPolicies)", got)
	}
	wantText := fmt.Sprintf(`CronJob/%[1]s/cleanup map[asm-1-28:1]
Deployment/%[1]s/frontend map[asm-1-28:2]
Pod/%[1]s/debug map[asm-1-28:1]
StatefulSet/%[1]s/db map[asm-1-28:1]
allow-0 unchanged replace=false
allow-1 update replace=true
allow-2 create replace=false
`, ns)
	if want != wantText {
		t.Errorf("streaming lists saw:\n%s\nwant:\n%s", want, wantText)
	}

	before = streams.Load()
	if got := see("refused", refusingStreams{streaming}, refusingStreams{streaming}, nil); got != want {
		t.Errorf("with streams refused:\n%s\nwith streams:\n%s", got, want)
	}
	if got := see("list only", listOnly{streaming}, refusingStreams{streaming}, nil); got != want {
		t.Errorf("without watch:\n%s\nwith streams:\n%s", got, want)
	}
	if n := streams.Load() - before; n != 0 {
		t.Errorf("%d streaming lists were made where the server refuses them", n)
	}
	// The diff's live objects as JSON, from a server that refuses the
	// stream: one refused stream, then one List.
	refused := new(atomic.Int64)
	if got := see("JSON refused", refusingStreams{streaming}, refusingStreams{streaming}, env.CountingConfig(new(atomic.Int64), refused, true)); got != want {
		t.Errorf("as JSON with streams refused:\n%s\nwith streams:\n%s", got, want)
	}
	if n := refused.Load(); n != 1 {
		t.Errorf("%d streaming lists asked of the refusing server, want 1 (AuthorizationPolicies)", n)
	}
}
