package configs

import (
	"fmt"
	"maps"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Manifest is one object meshops manages, as loaded from the repo.
//
// It keeps the object as compact JSON, not as decoded maps: a fleet's
// 10,000 policies are about 4 MB of JSON and were about 30 MB of maps,
// held for the whole run while only the objects that changed are ever
// needed whole. What the plan and validate ask of every object (its
// identity, labels, the policy facts) is read once, when it is built.
type Manifest struct {
	Source Source
	// raw is the object as encoding/json writes it (appendJSON): compact,
	// map keys sorted, the form the API server returns a custom resource
	// in.
	raw []byte
	// meta is what the plan and validate read of every manifest.
	meta manifestMeta
	// policy are the facts of a security policy validate and the plan's
	// order ask for.
	policy policyFacts
	// lines are where validate's messages point; a ConfigMap also keeps
	// its whole tree, for its mesh config (Load drops it after validate).
	lines metaLines
	tree  *node
	// provider is the ext-authz provider of a CUSTOM AuthorizationPolicy.
	provider *providerRef
}

// manifestMeta is a manifest's identity, labels and annotations.
type manifestMeta struct {
	gvk                 schema.GroupVersionKind
	namespace, name     string
	labels, annotations map[string]string
}

// policyFacts are what validate's whole-repo rules and the plan's order
// ask of a policy, decided when the manifest is built (the rules are
// functions of the decoded object in validate.go).
type policyFacts struct {
	defaultDeny bool
	allowAll    bool
	// allows: an AuthorizationPolicy whose action is ALLOW (or unset).
	allows bool
	// weakMTLS is the plain-text mode of a PeerAuthentication; "" if none.
	weakMTLS string
}

// NewManifest builds the manifest of an object that was not loaded from a
// repo (a test's, or a copy with other labels); obj is not kept.
func NewManifest(obj *unstructured.Unstructured, src Source) (Manifest, error) {
	return newManifest(obj.Object, src)
}

// newManifest encodes obj and reads what every later step asks of it.
// obj is not kept: the caller may reuse or drop it.
func newManifest(obj map[string]any, src Source) (Manifest, error) {
	raw, err := appendJSON(nil, obj)
	if err != nil {
		return Manifest{}, fmt.Errorf("the object cannot be written as JSON: %w", err)
	}
	u := &unstructured.Unstructured{Object: obj}
	m := Manifest{Source: src, raw: raw, meta: manifestMeta{
		gvk: u.GroupVersionKind(), namespace: u.GetNamespace(), name: u.GetName(),
		labels: u.GetLabels(), annotations: u.GetAnnotations(),
	}}
	m.policy = factsOf(m.meta.gvk.GroupKind(), obj)
	return m, nil
}

// Unstructured decodes the object: a fresh copy the caller owns.
func (m Manifest) Unstructured() *unstructured.Unstructured {
	obj := map[string]any{}
	if len(m.raw) > 0 {
		// raw was written by newManifest from a map: it decodes.
		if err := utiljson.Unmarshal(m.raw, &obj); err != nil {
			panic(fmt.Sprintf("manifest %s: decoding its own JSON: %v", m.ID(), err))
		}
	}
	return &unstructured.Unstructured{Object: obj}
}

// JSON is the object as compact JSON, map keys sorted. The caller must
// not change it.
func (m Manifest) JSON() []byte { return m.raw }

// WithLabels returns a copy of m with labels added to the object's
// (replacing any of the same key).
func (m Manifest) WithLabels(labels map[string]string) Manifest {
	if len(labels) == 0 {
		return m
	}
	u := m.Unstructured()
	all := u.GetLabels()
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, labels)
	u.SetLabels(all)
	out, err := newManifest(u.Object, m.Source)
	if err != nil {
		// u was decoded from JSON and given string labels: it encodes.
		panic(fmt.Sprintf("manifest %s: encoding it with labels: %v", m.ID(), err))
	}
	out.lines, out.provider = m.lines, m.provider
	return out
}

// GroupVersionKind, GroupKind, GetAPIVersion, GetKind, GetNamespace and
// GetName read the object's identity; GetLabels and GetAnnotations return
// copies of its labels and annotations (nil if none).
func (m Manifest) GroupVersionKind() schema.GroupVersionKind { return m.meta.gvk }
func (m Manifest) GroupKind() schema.GroupKind               { return m.meta.gvk.GroupKind() }
func (m Manifest) GetAPIVersion() string                     { return m.meta.gvk.GroupVersion().String() }
func (m Manifest) GetKind() string                           { return m.meta.gvk.Kind }
func (m Manifest) GetNamespace() string                      { return m.meta.namespace }
func (m Manifest) GetName() string                           { return m.meta.name }
func (m Manifest) GetLabels() map[string]string              { return maps.Clone(m.meta.labels) }
func (m Manifest) GetAnnotations() map[string]string         { return maps.Clone(m.meta.annotations) }

// ObjMetadata is the object's inventory entry.
func (m Manifest) ObjMetadata() object.ObjMetadata {
	return object.ObjMetadata{GroupKind: m.GroupKind(), Namespace: m.meta.namespace, Name: m.meta.name}
}

// ID names the object as Kind/namespace/name (Kind/name without a
// namespace), the way meshops' messages and plans refer to it.
func (m Manifest) ID() string {
	if ns := m.meta.namespace; ns != "" {
		return m.meta.gvk.Kind + "/" + ns + "/" + m.meta.name
	}
	return m.meta.gvk.Kind + "/" + m.meta.name
}
