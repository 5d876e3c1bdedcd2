package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var authorizationPolicies = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}

// seedJSONKinds makes n AuthorizationPolicies (a custom resource) and n
// ConfigMaps (a core kind) in a new namespace, and returns it.
func seedJSONKinds(t *testing.T, n int) string {
	t.Helper()
	ns := env.Namespace(t, nil)
	for i := range n {
		ap := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"metadata": map[string]any{"namespace": ns, "name": fmt.Sprintf("allow-%d", i)},
			"spec":     map[string]any{"action": "ALLOW", "rules": []any{map[string]any{}}},
		}}
		env.Create(t, ap)
		env.Create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"k": "v"}})
	}
	return ns
}

// countedConfig is env's config with every request counted, and the
// streaming lists among them; refuse answers a streaming list as an API
// server with the WatchList feature off does.
func countedConfig(refuse bool) (cfg *rest.Config, requests, streams *atomic.Int64) {
	requests, streams = new(atomic.Int64), new(atomic.Int64)
	return env.CountingConfig(requests, streams, refuse), requests, streams
}

// names reads the namespace/name and kind of each JSON object.
func names(t *testing.T, cfg *rest.Config, gvr schema.GroupVersionResource, ns string) []string {
	t.Helper()
	var out []string
	err := EachJSON(context.Background(), cfg, gvr, func(data []byte) error {
		var obj struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return fmt.Errorf("%s: %w", data, err)
		}
		out = append(out, obj.Metadata.Namespace+"/"+obj.Metadata.Name)
		return nil
	}, client.InNamespace(ns))
	if err != nil {
		t.Fatalf("%s: %v", gvr.Resource, err)
	}
	slices.Sort(out)
	return out
}

func TestEachJSONStreamsEveryObjectOfAKindInOneRequest(t *testing.T) {
	ns := seedJSONKinds(t, 25)
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("%s/allow-%d", ns, i))
	}
	slices.Sort(want)
	cfg, requests, streams := countedConfig(false)
	if got := names(t, cfg, authorizationPolicies, ns); !slices.Equal(got, want) {
		t.Errorf("streamed policies:\n got %v\nwant %v", got, want)
	}
	if got := names(t, cfg, corev1.SchemeGroupVersion.WithResource("configmaps"), ns); len(got) != 25 {
		t.Errorf("streamed %d ConfigMaps, want 25: %v", len(got), got)
	}
	if requests.Load() != 2 || streams.Load() != 2 {
		t.Errorf("%d requests, %d of them streaming lists; want 2 streaming lists (one per kind)", requests.Load(), streams.Load())
	}
}

// On a server with the WatchList feature off (Kubernetes 1.33's default)
// the stream is refused, and one plain List returns the same objects.
func TestEachJSONListsWhenTheServerRefusesTheStream(t *testing.T) {
	ns := seedJSONKinds(t, 5)
	streaming, _, _ := countedConfig(false)
	want := names(t, streaming, authorizationPolicies, ns)
	cfg, requests, streams := countedConfig(true)
	if got := names(t, cfg, authorizationPolicies, ns); !slices.Equal(got, want) || len(got) != 5 {
		t.Errorf("listed policies:\n got %v\nwant %v", got, want)
	}
	if got := names(t, cfg, corev1.SchemeGroupVersion.WithResource("configmaps"), ns); len(got) != 5 {
		t.Errorf("listed %d ConfigMaps, want 5: %v", len(got), got)
	}
	if requests.Load() != 4 || streams.Load() != 2 {
		t.Errorf("%d requests, %d of them refused streams; want 4, 2 (a refused stream and a List per kind)", requests.Load(), streams.Load())
	}
}

// A resource the server does not serve is its error (not found), as a
// List would say, never an empty list.
func TestEachJSONReportsAResourceTheServerDoesNotServe(t *testing.T) {
	cfg, _, _ := countedConfig(false)
	err := EachJSON(context.Background(), cfg, schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "nosuchthings"},
		func([]byte) error { return nil })
	if !apierrors.IsNotFound(err) {
		t.Errorf("EachJSON of an unserved resource: %v, want not found", err)
	}
}

func TestWatchEnvelopeKeepsTheObjectsBytesWhateverTheMembersOrder(t *testing.T) {
	obj := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"}"}}`
	for _, tc := range []struct {
		name, frame string
		cut         bool // the object is cut out, not read
	}{
		{"as the API server writes it", `{"type":"ADDED","object":` + obj + `}`, true},
		{"with a trailing newline", `{"type":"ADDED","object":` + obj + "}\n", true},
		{"object first", `{"object":` + obj + `,"type":"ADDED"}`, false},
		{"spaced", `{ "type" : "ADDED", "object" : ` + obj + ` }`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, cut := cutEnvelope([]byte(tc.frame)); cut != tc.cut {
				t.Errorf("cut = %v, want %v", cut, tc.cut)
			}
			ev := &metav1.WatchEvent{}
			if _, _, err := (watchEnvelope{}).Decode([]byte(tc.frame), nil, ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != "ADDED" || strings.TrimSpace(string(ev.Object.Raw)) != obj {
				t.Errorf("decoded %q %s, want ADDED %s", ev.Type, ev.Object.Raw, obj)
			}
		})
	}
}
