package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EachJSON is EachObject for a caller that reads a few fields of each
// object: fn gets every object of gvr as the JSON the API server sent,
// undecoded, and may keep it. The request is the same (one streaming list,
// or one List where the server refuses the stream), made by client-go's
// REST client from cfg, so its rate limits, credentials and wrapped round
// trippers apply.
//
// Decoding a custom resource into *unstructured.Unstructured reads its JSON
// four or five times and allocates a map for every JSON object in it; for
// ten thousand policies that was half of a plan's CPU. Here each event is
// read once by client-go's framer and its envelope is cut, not parsed.
func EachJSON(ctx context.Context, cfg *rest.Config, gvr schema.GroupVersionResource, fn func(data []byte) error, opts ...client.ListOption) error {
	rc, err := jsonClient(cfg, gvr.GroupVersion())
	if err != nil {
		return err
	}
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	req := func(o *metav1.ListOptions) *rest.Request {
		return rc.Get().NamespaceIfScoped(lo.Namespace, lo.Namespace != "").Resource(gvr.Resource).
			VersionedParams(o, metav1.ParameterCodec)
	}

	streamed, err := func() (bool, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		o := streamingOptions(opts).AsListOptions()
		o.Watch = true // client-go's typed clients set it, Request.Watch does not
		wi, err := req(o).Watch(ctx)
		if err != nil {
			return false, nil // refused: a List takes over
		}
		return eachEvent(ctx, wi, func(obj runtime.Object) error {
			u, ok := obj.(*runtime.Unknown)
			if !ok {
				return fmt.Errorf("streaming list of %s: unexpected %T", gvr.Resource, obj)
			}
			return fn(u.Raw)
		})
	}()
	if streamed || err != nil {
		return err
	}

	body, err := req((&client.ListOptions{}).ApplyOptions(opts).AsListOptions()).Do(ctx).Raw()
	if err != nil {
		return err
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("list of %s: %w", gvr.Resource, err)
	}
	for _, item := range list.Items {
		if err := fn(item); err != nil {
			return err
		}
	}
	return nil
}

// jsonClient is a REST client for gv that asks for JSON and keeps each
// object's bytes (a *runtime.Unknown) instead of decoding them.
func jsonClient(base *rest.Config, gv schema.GroupVersion) (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(base)
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	cfg.NegotiatedSerializer = rawJSON{}
	return rest.RESTClientFor(cfg)
}

// rawJSON is a negotiated serializer of JSON only, whose objects are
// their bytes: client-go's watch decodes each event's envelope with
// watchEnvelope and its object with keepBytes.
type rawJSON struct{}

func (rawJSON) SupportedMediaTypes() []runtime.SerializerInfo {
	return []runtime.SerializerInfo{{
		MediaType: runtime.ContentTypeJSON, MediaTypeType: "application", MediaTypeSubType: "json",
		EncodesAsText: true,
		Serializer:    keepBytes{},
		StreamSerializer: &runtime.StreamSerializerInfo{
			EncodesAsText: true, Serializer: watchEnvelope{}, Framer: jsonserializer.Framer,
		},
	}}
}

func (rawJSON) EncoderForVersion(e runtime.Encoder, _ runtime.GroupVersioner) runtime.Encoder {
	return e
}

func (rawJSON) DecoderToVersion(d runtime.Decoder, _ runtime.GroupVersioner) runtime.Decoder {
	return d
}

// statusPrefix starts every metav1.Status the API server writes (kind
// before apiVersion, as TypeMeta declares them).
var statusPrefix = []byte(`{"kind":"Status"`)

// keepBytes decodes an object to a *runtime.Unknown holding its JSON,
// except a Status, which client-go reads to turn a failed request into an
// API error, and any typed object it is asked to fill.
type keepBytes struct{}

func (keepBytes) Decode(data []byte, _ *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	switch into.(type) {
	case nil, *runtime.Unknown:
	default:
		return into, nil, json.Unmarshal(data, into)
	}
	if bytes.HasPrefix(data, statusPrefix) {
		st := &metav1.Status{}
		if err := json.Unmarshal(data, st); err == nil {
			return st, nil, nil
		}
	}
	u, _ := into.(*runtime.Unknown)
	if u == nil {
		u = &runtime.Unknown{}
	}
	u.Raw, u.ContentType = data, runtime.ContentTypeJSON
	return u, nil, nil
}

func (keepBytes) Encode(obj runtime.Object, w io.Writer) error {
	return json.NewEncoder(w).Encode(obj)
}

func (keepBytes) Identifier() runtime.Identifier { return "meshops-raw-json" }

// watchEnvelope decodes a watch event's envelope into *metav1.WatchEvent,
// the event's object left as its bytes, copied (client-go reuses the frame
// buffer for the next event).
type watchEnvelope struct{ keepBytes }

func (watchEnvelope) Decode(data []byte, _ *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	ev, ok := into.(*metav1.WatchEvent)
	if !ok {
		return nil, nil, fmt.Errorf("a watch event decodes into *metav1.WatchEvent, not %T", into)
	}
	if typ, obj, ok := cutEnvelope(data); ok {
		ev.Type = string(typ)
		ev.Object = runtime.RawExtension{Raw: bytes.Clone(obj)}
		return ev, nil, nil
	}
	var env struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, fmt.Errorf("watch event: %w", err)
	}
	ev.Type = env.Type
	ev.Object = runtime.RawExtension{Raw: env.Object}
	return ev, nil, nil
}

var (
	envelopeType   = []byte(`{"type":"`)
	envelopeObject = []byte(`,"object":`)
)

// cutEnvelope cuts the type and the object out of a watch event as the
// API server writes it, {"type":"ADDED","object":{...}}, without reading
// the object. The framer has checked that the frame is one JSON value, so
// the cut is the object unless the envelope had more members after it,
// which the object's reader would then reject. ok is false for any other
// shape, which a JSON decoder reads.
func cutEnvelope(data []byte) (typ, obj []byte, ok bool) {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(data), envelopeType)
	if !ok {
		return nil, nil, false
	}
	typ, rest, ok = bytes.Cut(rest, []byte(`"`))
	if !ok {
		return nil, nil, false
	}
	obj, ok = bytes.CutPrefix(rest, envelopeObject)
	if !ok || !bytes.HasSuffix(obj, []byte("}")) {
		return nil, nil, false
	}
	return typ, obj[:len(obj)-1], true
}
