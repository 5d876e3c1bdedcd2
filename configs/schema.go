package configs

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	telemetryv1alpha1 "istio.io/api/telemetry/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Offline schema validation. The Istio and Gateway API CRDs' OpenAPI
// schemas are generated from Go: Istio's from the protobuf messages of
// istio.io/api (whose descriptors are compiled into those packages), the
// Gateway API's from the Go types of sigs.k8s.io/gateway-api by
// controller-gen. Neither module ships its CRD YAML as an embedded file, and
// meshops is installed with `go install` and run from an image without a
// module cache, so the binary validates against the sources the CRDs are
// generated from: field names, types, lists and maps, and (for Istio) enum
// values. schema_test.go checks these shapes against the CRDs themselves,
// read from the module cache, so an upgrade of either module that makes
// them disagree fails the tests rather than a user's valid manifest.
//
// Not covered offline (the server-side dry run still is): CEL rules and
// oneOf constraints, lengths and patterns, and the Gateway API's enums,
// which live only in kubebuilder markers.

// valueType is what a field accepts, in OpenAPI's terms.
type valueType int

const (
	anyValue    valueType = iota // x-kubernetes-preserve-unknown-fields, or not modelled
	objectValue                  // known properties only
	mapValue                     // additionalProperties: every key, values of elem
	listValue
	stringValue
	integerValue
	numberValue
	booleanValue
	intOrStringValue
)

// shape is the schema of one value. Shapes are built once per process and
// shared by every manifest; recursive types (protobuf's Struct) share one
// shape through the builders' caches.
type shape struct {
	typ    valueType
	fields map[string]*shape // objectValue
	names  []string          // objectValue: field names, sorted, for messages
	elem   *shape            // listValue, mapValue
	enum   []string          // stringValue: the allowed values, when limited
	// oneofs maps a field to the protobuf oneof it belongs to: at most one
	// field of a oneof may be set (Istio's CRDs say so with oneOf).
	oneofs map[string]string
}

var (
	anyShape    = &shape{typ: anyValue}
	stringShape = &shape{typ: stringValue}
)

func newObject() *shape { return &shape{typ: objectValue, fields: map[string]*shape{}} }

// set adds a field to an object shape.
func (s *shape) set(name string, f *shape) {
	if _, ok := s.fields[name]; !ok {
		s.names = append(s.names, name)
		slices.Sort(s.names)
	}
	s.fields[name] = f
}

// istioObject is the shape of an Istio object: the Kubernetes envelope,
// spec from the protobuf message the CRD is generated from, and status left
// open (the CRDs preserve unknown fields there).
func istioObject(spec proto.Message) func() *shape {
	return sync.OnceValue(func() *shape {
		s := envelope()
		s.set("spec", (&protoShapes{seen: map[protoreflect.FullName]*shape{}}).message(spec.ProtoReflect().Descriptor()))
		return s
	})
}

// goObject is the shape of a Kubernetes object from its Go type, with the
// status left open: it is the server's to write, and apply ignores it.
func goObject(obj any) func() *shape {
	return sync.OnceValue(func() *shape {
		s := (&goShapes{seen: map[reflect.Type]*shape{}}).of(reflect.TypeOf(obj))
		if _, ok := s.fields["status"]; ok {
			s.set("status", anyShape)
		}
		return s
	})
}

// envelope is apiVersion, kind and metadata, as every object has them.
func envelope() *shape {
	s := newObject()
	s.set("apiVersion", stringShape)
	s.set("kind", stringShape)
	s.set("metadata", objectMeta())
	s.set("status", anyShape)
	return s
}

var objectMeta = sync.OnceValue(func() *shape {
	return (&goShapes{seen: map[reflect.Type]*shape{}}).of(reflect.TypeFor[metav1.ObjectMeta]())
})

// The schemas of the managed kinds, by group and kind: every version
// meshops accepts of a kind serves the same schema (Istio's v1 types are
// aliases of v1beta1's and v1alpha3's, the Gateway API's v1beta1 types of
// v1's).
var (
	authorizationPolicySchema   = istioObject(&securityv1beta1.AuthorizationPolicy{})
	peerAuthenticationSchema    = istioObject(&securityv1beta1.PeerAuthentication{})
	requestAuthenticationSchema = istioObject(&securityv1beta1.RequestAuthentication{})
	istioGatewaySchema          = istioObject(&networkingv1alpha3.Gateway{})
	virtualServiceSchema        = istioObject(&networkingv1alpha3.VirtualService{})
	serviceEntrySchema          = istioObject(&networkingv1alpha3.ServiceEntry{})
	destinationRuleSchema       = istioObject(&networkingv1alpha3.DestinationRule{})
	telemetrySchema             = istioObject(&telemetryv1alpha1.Telemetry{})
	gatewayAPIGatewaySchema     = goObject(gatewayv1.Gateway{})
	httpRouteSchema             = goObject(gatewayv1.HTTPRoute{})
	configMapSchema             = goObject(corev1.ConfigMap{})
)

// protoShapes builds shapes from protobuf descriptors the way Istio's CRD
// generator maps them to OpenAPI: fields by their JSON name, enums as their
// value names, 64-bit integers as int-or-string, well-known types as the
// JSON they are written as.
type protoShapes struct {
	seen map[protoreflect.FullName]*shape
}

func (b *protoShapes) message(md protoreflect.MessageDescriptor) *shape {
	if s, ok := b.seen[md.FullName()]; ok {
		return s
	}
	switch md.FullName() {
	case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return stringShape
	case "google.protobuf.BoolValue":
		return &shape{typ: booleanValue}
	case "google.protobuf.Int32Value", "google.protobuf.UInt32Value":
		return &shape{typ: integerValue}
	case "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
		return &shape{typ: intOrStringValue}
	case "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return &shape{typ: numberValue}
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any", "google.protobuf.Empty":
		return anyShape
	}
	s := newObject()
	b.seen[md.FullName()] = s
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fs := b.field(fd)
		s.set(fd.JSONName(), fs)
		if protoAltNames[fd.FullName()] {
			s.set(string(fd.Name()), fs)
		}
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if s.oneofs == nil {
				s.oneofs = map[string]string{}
			}
			s.oneofs[fd.JSONName()] = string(o.Name())
		}
	}
	return s
}

// protoAltNames are the fields whose CRD also accepts their protobuf name,
// marked +kubebuilder:altName in Istio's protos. The marker is a comment,
// which compiled descriptors do not keep; schema_crd_test.go fails when the
// CRDs gain one that is missing here.
var protoAltNames = map[protoreflect.FullName]bool{
	"istio.security.v1beta1.JWTRule.jwks_uri":            true,
	"istio.networking.v1alpha3.HTTPRoute.mirror_percent": true,
}

func (b *protoShapes) field(fd protoreflect.FieldDescriptor) *shape {
	switch {
	case fd.IsMap():
		return &shape{typ: mapValue, elem: b.single(fd.MapValue())}
	case fd.IsList():
		return &shape{typ: listValue, elem: b.single(fd)}
	}
	return b.single(fd)
}

// single is the shape of one value of the field, ignoring its cardinality.
func (b *protoShapes) single(fd protoreflect.FieldDescriptor) *shape {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return b.message(fd.Message())
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return anyShape
		}
		vals := ed.Values()
		s := &shape{typ: stringValue, enum: make([]string, 0, vals.Len())}
		for i := range vals.Len() {
			s.enum = append(s.enum, string(vals.Get(i).Name()))
		}
		return s
	case protoreflect.BoolKind:
		return &shape{typ: booleanValue}
	case protoreflect.StringKind, protoreflect.BytesKind:
		return stringShape
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return &shape{typ: numberValue}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &shape{typ: intOrStringValue}
	}
	return &shape{typ: integerValue}
}

// goShapes builds shapes from Go API types the way controller-gen maps
// them to OpenAPI: fields by their json tag, inline structs merged in.
type goShapes struct {
	seen map[reflect.Type]*shape
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	timeTypes       = []reflect.Type{reflect.TypeFor[metav1.Time](), reflect.TypeFor[metav1.MicroTime]()}
)

func (b *goShapes) of(t reflect.Type) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := b.seen[t]; ok {
		return s
	}
	switch {
	case slices.Contains(timeTypes, t):
		return stringShape
	case t == reflect.TypeFor[intstr.IntOrString]():
		return &shape{typ: intOrStringValue}
	case reflect.PointerTo(t).Implements(jsonUnmarshaler):
		// A type that decodes itself (FieldsV1, RawExtension) has a
		// schema of its own making: leave it open.
		return anyShape
	}
	switch t.Kind() {
	case reflect.Struct:
		s := newObject()
		b.seen[t] = s
		b.addFields(s, t)
		return s
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return stringShape // []byte is base64 in JSON
		}
		return &shape{typ: listValue, elem: b.of(t.Elem())}
	case reflect.Map:
		return &shape{typ: mapValue, elem: b.of(t.Elem())}
	case reflect.String:
		return stringShape
	case reflect.Bool:
		return &shape{typ: booleanValue}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &shape{typ: integerValue}
	case reflect.Float32, reflect.Float64:
		return &shape{typ: numberValue}
	}
	return anyShape
}

// addFields adds the JSON fields of struct t to s; embedded structs without
// a name of their own (json:",inline") add theirs.
func (b *goShapes) addFields(s *shape, t reflect.Type) {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" && f.Anonymous {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				b.addFields(s, ft)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		s.set(name, b.of(f.Type))
	}
}

// checkSchema checks a manifest's tree against the schema of its kind,
// reporting every unknown field, wrong type and value outside an enum at
// its line.
func checkSchema(r *fieldReader, schemaOf func() *shape, t *node) {
	if schemaOf == nil {
		return
	}
	schemaOf().check(r, t, &fieldPath{})
}

// fieldPath is where check is in a document, one segment per level,
// spelled out (joinPath, indexPath) only for a problem: building the path
// of every field of 10,000 policies as the check went was a tenth of
// their load.
type fieldPath []pathSegment

type pathSegment struct {
	key   string
	index int // a list item's index; -1 for a mapping key
}

func (p *fieldPath) push(key string, index int) { *p = append(*p, pathSegment{key: key, index: index}) }
func (p *fieldPath) pop()                       { *p = (*p)[:len(*p)-1] }

func (p *fieldPath) String() string {
	out := ""
	for _, s := range *p {
		if s.index >= 0 {
			out = indexPath(out, s.index)
		} else {
			out = joinPath(out, s.key)
		}
	}
	return out
}

func (s *shape) check(r *fieldReader, n *node, at *fieldPath) {
	if n.isNull() {
		// The API server drops nulls of fields that are not nullable.
		return
	}
	switch s.typ {
	case anyValue:
	case objectValue:
		if n.kind != mapNode {
			field := at.String()
			r.wrongType(n, orRoot(field), "a mapping", "write "+orRoot(field)+" as key: value pairs")
			return
		}
		var setOneofs map[string]string // oneof → the field that set it
		for _, e := range n.entries {
			fs, ok := s.fields[e.key]
			if !ok {
				r.probs.add(r.file, e.line, joinPath(at.String(), e.key), s.unknownFix(at.String(), e.key), "unknown field %q", clip(e.key))
				continue
			}
			if o, ok := s.oneofs[e.key]; ok && !e.val.isNull() {
				if other, dup := setOneofs[o]; dup {
					r.probs.add(r.file, e.line, joinPath(at.String(), e.key), "keep one of "+other+" and "+e.key,
						"%s cannot be set together with %s", e.key, other)
				} else {
					if setOneofs == nil {
						setOneofs = map[string]string{}
					}
					setOneofs[o] = e.key
				}
			}
			at.push(e.key, -1)
			fs.check(r, e.val, at)
			at.pop()
		}
	case mapValue:
		if n.kind != mapNode {
			field := at.String()
			r.wrongType(n, orRoot(field), "a mapping", "write "+orRoot(field)+" as key: value pairs")
			return
		}
		for _, e := range n.entries {
			at.push(e.key, -1)
			s.elem.check(r, e.val, at)
			at.pop()
		}
	case listValue:
		if n.kind != listNode {
			field := at.String()
			r.wrongType(n, field, "a list", "write "+field+" as a YAML list: - item")
			return
		}
		for i, it := range n.items {
			at.push("", i)
			s.elem.check(r, it, at)
			at.pop()
		}
	default:
		s.checkScalar(r, n, at)
	}
}

func (s *shape) checkScalar(r *fieldReader, n *node, at *fieldPath) {
	var ok bool
	if n.kind == scalarNode {
		switch v := n.scalar.(type) {
		case string:
			ok = s.typ == stringValue || s.typ == intOrStringValue
			if ok && len(s.enum) > 0 && !slices.Contains(s.enum, v) {
				r.probs.add(r.file, n.line, at.String(), s.enumFix(v), "expected one of %s; got %q", strings.Join(s.enum, ", "), clip(v))
				return
			}
		case int64:
			ok = s.typ == integerValue || s.typ == numberValue || s.typ == intOrStringValue
		case float64:
			ok = s.typ == numberValue || (s.typ == integerValue || s.typ == intOrStringValue) && v == float64(int64(v))
		case bool:
			ok = s.typ == booleanValue
		}
	}
	if ok {
		return
	}
	field := at.String()
	switch s.typ {
	case stringValue:
		want := "a string"
		if len(s.enum) > 0 {
			want = "one of " + strings.Join(s.enum, ", ")
		}
		fix := "quote the value: " + lastKey(field) + ": \"...\""
		switch {
		case len(s.enum) > 0:
			fix = "use one of " + strings.Join(s.enum, ", ")
		case n.kind != scalarNode:
			fix = "write " + lastKey(field) + " as a string; text of several lines is written " + lastKey(field) + ": |- followed by the text, indented"
		}
		r.wrongType(n, field, want, fix)
	case integerValue:
		r.wrongType(n, field, "a whole number", "write "+lastKey(field)+" as a number without quotes")
	case numberValue:
		r.wrongType(n, field, "a number", "write "+lastKey(field)+" as a number without quotes")
	case booleanValue:
		r.wrongType(n, field, "true or false", "write "+lastKey(field)+": true or "+lastKey(field)+": false")
	case intOrStringValue:
		r.wrongType(n, field, "a number or a string", "write "+lastKey(field)+" as a number or a quoted string")
	}
}

// unknownFix suggests the field the user probably meant, or lists the
// fields the object has.
func (s *shape) unknownFix(parent, key string) string {
	if near := nearest(key, s.names); near != "" {
		return "did you mean " + joinPath(parent, near) + "?"
	}
	if len(s.names) == 0 {
		return "remove it: " + orRoot(parent) + " takes no fields"
	}
	return "remove it, or use one of: " + strings.Join(s.names, ", ")
}

func (s *shape) enumFix(v string) string {
	for _, e := range s.enum {
		if strings.EqualFold(e, v) {
			return "write " + e + " (upper case)"
		}
	}
	if near := nearest(v, s.enum); near != "" {
		return "did you mean " + near + "?"
	}
	return "use one of " + strings.Join(s.enum, ", ")
}

// nearest returns the candidate within edit distance 2 of s (the closest,
// the first in order on a tie), or "".
func nearest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c), bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent swaps count
// once: actoin → action is 1) of a and b, or limit when it is limit or
// more.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(rb)], limit)
}

func orRoot(field string) string {
	if field == "" {
		return "the object"
	}
	return field
}

// lastKey is the last key of a field path, without list indexes, as the
// user writes it in a fix ("port" of spec.servers[0].port.number's parent).
func lastKey(field string) string {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	return field
}
