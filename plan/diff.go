package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"

	"github.com/fluxcd/pkg/ssa"
	"github.com/pmezard/go-difflib/difflib"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/retry"
)

// ObjectAction is what applying the repo would do to one object.
type ObjectAction string

const (
	ObjectCreate    ObjectAction = "create"
	ObjectUpdate    ObjectAction = "update"
	ObjectUnchanged ObjectAction = "unchanged"
)

// ObjectChange is one managed object's difference between repo and cluster.
type ObjectChange struct {
	Manifest configs.Manifest
	Action   ObjectAction
	// Diff is a unified diff of the live object against what the apply
	// would leave, as YAML with secret-like values masked; empty when
	// unchanged.
	Diff string
	// Replace: the live spec holds fields git does not (a security policy
	// edited by hand); the executor replaces the whole spec, atomically.
	Replace bool
}

// wholeSpecKinds are the kinds whose entire spec meshops owns. Server-side
// apply leaves fields another manager added, which is right for most
// objects but not for security policy: rules added by hand to a default
// deny turn it into allow-all. For these, any field git does not hold is
// drift.
var wholeSpecKinds = map[schema.GroupKind]bool{
	{Group: "security.istio.io", Kind: "AuthorizationPolicy"}:   true,
	{Group: "security.istio.io", Kind: "PeerAuthentication"}:    true,
	{Group: "security.istio.io", Kind: "RequestAuthentication"}: true,
}

// DiffManifests asks the API server, by server-side dry-run apply through
// rm, what applying each manifest would change. The server applies defaults
// and the real CRD schemas, and fields other managers own stay as they are
// on both sides, so they never show as drift. Every object is tried; the
// error joins each failure, prefixed by the manifest's file and line.
//
// Each kind is streamed once first, and a manifest whose live object
// already holds exactly its fields needs no dry run: a steady-state plan
// costs one request per kind, whatever the number of objects, and holds
// no live object it does not need.
//
// live is the REST config the live objects are streamed with, as their
// JSON (observe.EachJSON); nil streams them through rm's client, decoded.
//
// owner are the labels meshops adds to every object it applies (its owner
// labels; nil for none): the dry run must see them, or every object would
// show a label diff. The change of an object that needs a dry run holds
// the manifest with them; an unchanged one holds the manifest as loaded.
func DiffManifests(ctx context.Context, rm *ssa.ResourceManager, live *rest.Config, manifests []configs.Manifest, owner map[string]string) ([]ObjectChange, error) {
	return diffCompared(ctx, rm, manifests, compareLive(ctx, rm.Client(), live, manifests, owner), owner)
}

// diffCompared is DiffManifests once the live objects were compared: cmp
// is compareLive's result for manifests.
func diffCompared(ctx context.Context, rm *ssa.ResourceManager, manifests []configs.Manifest, cmp liveComparison, owner map[string]string) ([]ObjectChange, error) {
	out := make([]ObjectChange, 0, len(manifests))
	var errs []error
	for i, m := range manifests {
		if cmp.unchanged[i] {
			out = append(out, ObjectChange{Manifest: m, Action: ObjectUnchanged})
			continue
		}
		m = m.WithLabels(owner)
		entry, liveObj, merged, err := rm.Diff(ctx, m.Unstructured(), ssa.DefaultDiffOptions())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", m.Source, m.ID(), err))
			continue
		}
		ch := ObjectChange{Manifest: m}
		switch entry.Action {
		case ssa.CreatedAction:
			ch.Action = ObjectCreate
			// The dry run returns no object for a create: show the manifest.
			ch.Diff, err = unifiedDiff(m.ID(), nil, m.Unstructured())
		case ssa.ConfiguredAction:
			ch.Action = ObjectUpdate
			ch.Diff, err = unifiedDiff(m.ID(), liveObj, merged)
		default:
			ch.Action = ObjectUnchanged
		}
		if err == nil && ch.Action != ObjectCreate {
			err = specDrift(cmp.differing[i], merged, cmp.foreign[i], &ch)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: rendering diff: %w", m.Source, m.ID(), err))
			continue
		}
		out = append(out, ch)
	}
	return out, errors.Join(errs...)
}

// liveComparison is what streaming the live objects found, by manifest
// index: those that already hold their manifest, and the live object of
// each whole-spec manifest that does not (specDrift's other side). A kind
// whose stream failed (its CRD is missing) leaves its manifests in
// neither, so they go to the dry run, which reports the error with the
// manifest's file.
type liveComparison struct {
	unchanged []bool
	differing map[int]*unstructured.Unstructured
	// foreign marks the differing objects with spec fields that another
	// manager than meshops' apply owns.
	foreign map[int]bool
}

// only is the comparison of the manifests at keep (indices into the
// manifests l was made for), indexed as keep is.
func (l liveComparison) only(keep []int) liveComparison {
	out := liveComparison{unchanged: make([]bool, len(keep)), differing: map[int]*unstructured.Unstructured{}, foreign: map[int]bool{}}
	for j, i := range keep {
		out.unchanged[j] = l.unchanged[i]
		if u, ok := l.differing[i]; ok {
			out.differing[j] = u
		}
		if l.foreign[i] {
			out.foreign[j] = true
		}
	}
	return out
}

// compareLive streams each kind of the manifests once and compares every
// live object with its manifest. With cfg, objects come as their JSON and
// one whose fields are byte for byte its manifest's is never decoded
// whole: ten thousand unchanged policies cost a pass over their bytes,
// not ten thousand maps. Any other object is decoded and compared as the
// decoded stream does (holds), so a difference of formatting costs time,
// never a different result.
func compareLive(ctx context.Context, c client.Client, cfg *rest.Config, manifests []configs.Manifest, owner map[string]string) liveComparison {
	out := liveComparison{unchanged: make([]bool, len(manifests)), differing: map[int]*unstructured.Unstructured{}, foreign: map[int]bool{}}
	byKind := map[schema.GroupVersionKind]map[string]int{}
	for i, m := range manifests {
		gvk := m.GroupVersionKind()
		if byKind[gvk] == nil {
			byKind[gvk] = map[string]int{}
		}
		byKind[gvk][m.GetNamespace()+"/"+m.GetName()] = i
	}
	for gvk, index := range byKind {
		found := map[int]bool{}
		compare := func(u *unstructured.Unstructured, i int) {
			found[i] = true
			if holds(u, manifests[i].Unstructured(), owner) {
				out.unchanged[i] = true
			} else if wholeSpecKinds[gvk.GroupKind()] {
				out.foreign[i] = foreignSpec(u)
				unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
				out.differing[i] = u
			}
		}
		forget := func() {
			for i := range found {
				out.unchanged[i] = false
				delete(out.differing, i)
				delete(out.foreign, i)
			}
			clear(found)
		}
		var err error
		if cfg != nil {
			// The client retries its calls (retry.Client) and this
			// stream does not go through it: retry the kind here, from
			// its first object, rather than send ten thousand dry runs
			// after a blink of the server.
			err = retry.Do(ctx, retry.DefaultOptions(), func() error {
				forget()
				return eachLiveJSON(ctx, c, cfg, gvk, func(live liveJSON, data []byte) error {
					i, ok := index[live.meta.Namespace+"/"+live.meta.Name]
					if !ok {
						return nil
					}
					m := manifests[i]
					if holdsJSON(live, manifestFields(m), m.GetLabels(), m.GetAnnotations(), owner) {
						found[i] = true
						out.unchanged[i] = true
						return nil
					}
					u, err := decodeLive(data, gvk)
					if err != nil {
						return err
					}
					compare(u, i)
					return nil
				})
			})
		} else {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			err = observe.EachObject(ctx, c, list, func(obj runtime.Object) error {
				u, ok := obj.(*unstructured.Unstructured)
				if !ok {
					return nil
				}
				if i, ok := index[u.GetNamespace()+"/"+u.GetName()]; ok {
					compare(u, i)
				}
				return nil
			})
		}
		if err != nil {
			// The dry run asks again, one object at a time, and
			// names the file of each that fails.
			forget()
		}
	}
	return out
}

// liveJSON is a live object's top level as JSON, and the metadata that
// holdsJSON reads; the rest of the metadata (managed fields) is not read.
type liveJSON struct {
	fields map[string]json.RawMessage
	meta   liveMeta
}

type liveMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// eachLiveJSON streams gvk's live objects as their JSON (one request) and
// calls fn with each, its top level and metadata read.
func eachLiveJSON(ctx context.Context, c client.Client, cfg *rest.Config, gvk schema.GroupVersionKind, fn func(live liveJSON, data []byte) error) error {
	mapping, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	return observe.EachJSON(ctx, cfg, mapping.Resource, func(data []byte) error {
		live, err := parseLive(data)
		if err != nil {
			return fmt.Errorf("%s: %w", gvk.Kind, err)
		}
		return fn(live, data)
	})
}

// parseLive reads a live object's top level and metadata. The fields are
// slices of data: the bytes are read once, and not copied.
func parseLive(data []byte) (liveJSON, error) {
	live := liveJSON{fields: make(map[string]json.RawMessage, 6)}
	if !jsonMembers(data, func(key, value []byte) bool {
		live.fields[string(key)] = value
		return true
	}) {
		live.fields = nil
		if err := json.Unmarshal(data, &live.fields); err != nil {
			return live, err
		}
	}
	md, ok := live.fields["metadata"]
	if !ok {
		return live, nil
	}
	if !jsonMembers(md, func(key, value []byte) bool {
		var err error
		switch string(key) {
		case "name":
			live.meta.Name, err = jsonString(value)
		case "namespace":
			live.meta.Namespace, err = jsonString(value)
		case "labels":
			err = json.Unmarshal(value, &live.meta.Labels)
		case "annotations":
			err = json.Unmarshal(value, &live.meta.Annotations)
		}
		return err == nil
	}) {
		live.meta = liveMeta{}
		if err := json.Unmarshal(md, &live.meta); err != nil {
			return live, fmt.Errorf("metadata: %w", err)
		}
	}
	return live, nil
}

// jsonMembers calls fn with the key and the value's bytes of each member
// of the JSON object data, until fn returns false. data is one valid JSON
// value, as the stream's framer or the List's decoder checked it, or as
// configs wrote a manifest; so this finds where each value ends and checks
// no more. It is false when data is not an object, a key holds an escape
// or invalid UTF-8, or fn said stop: encoding/json reads those.
func jsonMembers(data []byte, fn func(key, value []byte) bool) bool {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i++
	for {
		i = skipJSONSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			return true
		case ',':
			i = skipJSONSpace(data, i+1)
		}
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end := jsonValueEnd(data, i)
		if end < 0 {
			return false
		}
		key := data[i+1 : end-1]
		// encoding/json unescapes a key and replaces invalid UTF-8 in it:
		// such keys are its to read.
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return false
		}
		i = skipJSONSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipJSONSpace(data, i+1)
		end = jsonValueEnd(data, i)
		if end < 0 || !fn(key, data[i:end]) {
			return false
		}
		i = end
	}
}

// jsonValueEnd is the index after the JSON value that starts at data[i],
// or -1.
func jsonValueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		for j := i + 1; j < len(data); j++ {
			switch data[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end := jsonValueEnd(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null.
	j := i
	for j < len(data) {
		if c := data[j]; c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		j++
	}
	if j == i {
		return -1
	}
	return j
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// jsonString is a JSON string's value; one without escapes is not decoded.
func jsonString(value []byte) (string, error) {
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' && bytes.IndexByte(value, '\\') < 0 {
		return string(value[1 : len(value)-1]), nil
	}
	var s string
	err := json.Unmarshal(value, &s)
	return s, err
}

// decodeLive decodes a live object whole, as client-go decodes it into
// unstructured (integers stay int64). A List's items may lack their kind.
func decodeLive(data []byte, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	obj := map[string]any{}
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.GetKind() == "" {
		u.SetGroupVersionKind(gvk)
	}
	return u, nil
}

// manifestFields is each top-level field of m beside apiVersion, kind and
// metadata, as encoding/json writes it (compact, map keys sorted: the form
// the API server writes a custom resource in), cut from the manifest's
// JSON. nil if that JSON is not an object, which configs never makes.
func manifestFields(m configs.Manifest) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, 2)
	if !jsonMembers(m.JSON(), func(key, value []byte) bool {
		switch k := string(key); k {
		case "apiVersion", "kind", "metadata":
		default:
			out[k] = value
		}
		return true
	}) {
		return nil
	}
	return out
}

// holdsJSON is holds for a live object as its JSON and want's fields as
// manifestFields encodes them: every field of want byte for byte the
// live one, no other live field beside metadata and status, and the labels
// and annotations holds needs. True means holds would say so; false only
// that the bytes alone cannot tell (two encodings of the same value
// differ), so the caller asks holds.
func holdsJSON(live liveJSON, want map[string]json.RawMessage, labels, annotations, extra map[string]string) bool {
	if want == nil {
		return false // the manifest's fields are unknown
	}
	for k, v := range want {
		if got, ok := live.fields[k]; !ok || v == nil || !bytes.Equal(got, v) {
			return false
		}
	}
	for k := range live.fields {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		if _, ok := want[k]; !ok {
			return false
		}
	}
	return holdsMeta(labels, annotations, extra, live.meta.Labels, live.meta.Annotations)
}

// holds reports whether live already is what applying want, with the
// extra labels, would leave: every top-level field of want (spec, data,
// ...) equal, no other field beside metadata and status, and want's labels,
// the extra labels and want's annotations present. Anything else goes to
// the server's dry run, which knows defaults and field ownership.
func holds(live, want *unstructured.Unstructured, extra map[string]string) bool {
	for k, v := range want.Object {
		if k == "apiVersion" || k == "kind" || k == "metadata" {
			continue
		}
		if !sameJSON(live.Object[k], v) {
			return false
		}
	}
	for k := range live.Object {
		if _, ok := want.Object[k]; !ok && k != "metadata" && k != "status" {
			return false
		}
	}
	return holdsMeta(want.GetLabels(), want.GetAnnotations(), extra, live.GetLabels(), live.GetAnnotations())
}

// holdsMeta is holds' rule for metadata: want's labels, the extra labels
// and want's annotations are all on the live object, with their values.
func holdsMeta(labels, annotations, extra, liveLabels, liveAnnotations map[string]string) bool {
	subset := func(want, have map[string]string) bool {
		for k, v := range want {
			if got, ok := have[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
	return subset(labels, liveLabels) && subset(extra, liveLabels) && subset(annotations, liveAnnotations)
}

// specDrift marks a whole-spec object whose live spec differs from git
// and was touched by someone else (foreign: another manager owns spec
// fields): its spec is replaced, so fields added or changed by hand go
// whatever their owner. A change in git alone, to a spec only meshops
// writes, is a plain update that server-side apply makes (merged, the dry
// run's result, already equals git), and says so. Objects that holds
// already found equal never get here: only those that went to the dry run.
func specDrift(obj, merged *unstructured.Unstructured, foreign bool, ch *ObjectChange) error {
	if obj == nil || !wholeSpecKinds[ch.Manifest.GroupKind()] {
		return nil
	}
	git := ch.Manifest.Unstructured().Object
	if sameJSON(obj.Object["spec"], git["spec"]) {
		return nil
	}
	if !foreign && merged != nil && ch.Action == ObjectUpdate && sameJSON(merged.Object["spec"], git["spec"]) {
		return nil
	}
	want := obj.DeepCopy()
	if spec, ok := git["spec"]; ok {
		want.Object["spec"] = spec
	} else {
		delete(want.Object, "spec")
	}
	diff, err := unifiedDiff(ch.Manifest.ID(), obj, want)
	if err != nil {
		return err
	}
	ch.Action, ch.Replace, ch.Diff = ObjectUpdate, true, diff
	return nil
}

// sameJSON reports whether two top-level fields of an object are the same
// JSON; an absent field and an empty map are the same.
func sameJSON(a, b any) bool {
	emptyMap := func(v any) bool {
		m, ok := v.(map[string]any)
		return v == nil || ok && len(m) == 0
	}
	if emptyMap(a) && emptyMap(b) {
		return true
	}
	return equalJSON(a, b)
}

// equalJSON reports whether two JSON-like values (map[string]any, []any,
// strings, bools, numbers, nil) encode to the same JSON, numbers compared
// by value, so int64 from one decoder equals float64 from another. It walks
// both rather than encoding them: a plan compares every field of every
// managed object, and encoding them was most of what a plan allocated.
func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return isNullJSON(b)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || (x == nil) != (y == nil) {
			return x == nil && isNullJSON(b)
		}
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || (x == nil) != (y == nil) {
			return x == nil && isNullJSON(b)
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	if x, ok := jsonNumber(a); ok {
		y, ok := jsonNumber(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

// isNullJSON reports whether v encodes to null: nil, or a nil map or list.
func isNullJSON(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return t == nil
	case []any:
		return t == nil
	}
	return false
}

// jsonNumber is a number's value as JSON carries it (a float64).
func jsonNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// unifiedDiff renders before → after as a unified YAML diff, without the
// server's bookkeeping fields and with secrets masked.
func unifiedDiff(id string, before, after *unstructured.Unstructured) (string, error) {
	return labeledDiff("live/"+id, "git/"+id, before, after)
}

// labeledDiff is unifiedDiff with the two sides named by the caller.
func labeledDiff(from, to string, before, after *unstructured.Unstructured) (string, error) {
	a, err := diffYAML(before)
	if err != nil {
		return "", err
	}
	b, err := diffYAML(after)
	if err != nil {
		return "", err
	}
	lines := func(s string) []string {
		if s == "" {
			return nil // a create: no live lines, not one empty line
		}
		return difflib.SplitLines(s)
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(a), B: lines(b),
		FromFile: from, ToFile: to, Context: 3,
	})
}

func diffYAML(u *unstructured.Unstructured) (string, error) {
	if u == nil {
		return "", nil
	}
	c := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	Mask(c)
	data, err := yaml.Marshal(c.Object)
	return string(data), err
}

// MaskMarker replaces every secret-like value in plans and logs; it is
// redact.Marker, the one rule's marker.
const MaskMarker = redact.Marker

// Mask replaces, in place, the values of a Secret's data and stringData and
// every value that redact's rule finds secret (by its key or by what it
// looks like), so that neither a plan, a log line nor a PR comment carries
// them.
func Mask(u *unstructured.Unstructured) {
	if u.GetKind() == "Secret" && u.GetAPIVersion() == "v1" {
		for _, f := range []string{"data", "stringData"} {
			if m, ok := u.Object[f].(map[string]any); ok {
				for k := range m {
					m[k] = MaskMarker
				}
			}
		}
	}
	for k, v := range u.Object {
		if k != "metadata" {
			u.Object[k] = redact.Tree(k, v)
		}
	}
	// Names and labels identify the object and are never secret; an
	// annotation can hold a credential.
	if ann := u.GetAnnotations(); len(ann) > 0 {
		redact.Tree("", ann)
		u.SetAnnotations(ann)
	}
}

// FieldManager is the field manager meshops applies with.
const FieldManager = "meshops"

// foreignSpec reports whether a manager other than meshops' server-side
// apply owns any field of u's spec.
func foreignSpec(u *unstructured.Unstructured) bool {
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			continue
		}
		if mf.FieldsV1 != nil && bytes.Contains(mf.FieldsV1.Raw, []byte(`"f:spec"`)) {
			return true
		}
	}
	return false
}
