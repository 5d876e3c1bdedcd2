package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
)

// Options say where the mesh lives. DefaultOptions gives the AKS layout.
type Options struct {
	// IstioNamespace runs istiod; its PeerAuthentications apply mesh-wide.
	IstioNamespace string
	// IngressNamespace runs the ingress gateways: their LoadBalancer
	// Services and the Secrets their TLS credentialNames name.
	IngressNamespace string
	// IngressService is the shared gateway's Service, annotated with the
	// public IP the config names.
	IngressService string
}

// DefaultOptions is the AKS add-on's layout, as configs defaults it.
func DefaultOptions() Options {
	return Options{
		IstioNamespace:   configs.DefaultIstioSystemNamespace,
		IngressNamespace: configs.DefaultIngressGatewayNamespace,
		IngressService:   configs.DefaultIngressGatewayService,
	}
}

// OptionsFor reads the layout from the config repo's settings.
func OptionsFor(cfg *configs.Config) Options {
	ext := cfg.Settings.Extensions
	o := DefaultOptions()
	for _, v := range []struct{ dst, src *string }{
		{&o.IstioNamespace, &ext.IstioSystemNamespace},
		{&o.IngressNamespace, &ext.IngressGatewayNamespace},
		{&o.IngressService, &ext.IngressGatewayService},
	} {
		if *v.src != "" {
			*v.dst = *v.src
		}
	}
	return o
}

// State is what verification reads of the cluster: the planner's snapshot
// and the objects it does not hold.
type State struct {
	*observe.Snapshot
	// LoadBalancers are every LoadBalancer Service in the ingress namespace.
	LoadBalancers []observe.Ingress
	// PeerAuthentications are every PeerAuthentication in the cluster.
	PeerAuthentications []PeerAuthentication
	// Gateways are the Istio and Gateway API Gateways that terminate TLS
	// with a Secret.
	Gateways []Gateway
	// ProxyTags maps a revision to the proxy image tag its injector puts
	// into new pods today (global.tag of istio-sidecar-injector-<rev>);
	// a revision whose injector values were not found is missing.
	ProxyTags map[string]string
}

// PeerAuthentication is one mTLS policy: where it applies and its mode.
type PeerAuthentication struct {
	Object ref.Object
	// Mode is spec.mtls.mode ("" when unset: inherited).
	Mode string
	// Selector is true when it applies to selected workloads only.
	Selector bool
}

// Gateway is a Gateway and the Secrets its TLS listeners read.
type Gateway struct {
	Object      ref.Object
	Credentials []Credential
}

// Credential is one TLS Secret a gateway needs, and whether it exists.
type Credential struct {
	Secret  ref.Object
	Present bool
	// Unreadable is set when meshops may not read Secrets there (its
	// in-cluster role does not grant it: least privilege); Present is
	// then unknown.
	Unreadable bool
}

var (
	peerAuthenticationGVK = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthenticationList"}
	istioGatewayGVK       = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "GatewayList"}
	gatewayAPIGatewayGVK  = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayList"}
)

// Observe reads the cluster once: observe.Observe, then the ingress
// namespace's Services, the PeerAuthentications, the Gateways with the
// Secrets they name (metadata only: verify never reads a Secret's data)
// and each revision's injector values. A kind whose CRD is not installed
// counts as none.
func Observe(ctx context.Context, c client.Client, o Options) (*State, error) {
	snap, err := observe.Observe(ctx, c, observe.Options{IstioNamespace: o.IstioNamespace, IngressNamespace: o.IngressNamespace, IngressService: o.IngressService})
	if err != nil {
		return nil, err
	}
	s := &State{Snapshot: snap, ProxyTags: map[string]string{}}

	var svcs corev1.ServiceList
	if err := c.List(ctx, &svcs, client.InNamespace(o.IngressNamespace)); err != nil {
		return nil, fmt.Errorf("listing Services in %s: %w", o.IngressNamespace, err)
	}
	for _, svc := range svcs.Items {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		in := observe.Ingress{Namespace: svc.Namespace, Name: svc.Name, Annotations: svc.Annotations}
		for _, lb := range svc.Status.LoadBalancer.Ingress {
			in.Address = lb.IP + lb.Hostname
		}
		s.LoadBalancers = append(s.LoadBalancers, in)
	}

	pas, err := listOptional(ctx, c, peerAuthenticationGVK)
	if err != nil {
		return nil, err
	}
	for _, pa := range pas {
		mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode")
		_, selector, _ := unstructured.NestedMap(pa.Object, "spec", "selector")
		s.PeerAuthentications = append(s.PeerAuthentications, PeerAuthentication{
			Object: ref.Object{Group: "security.istio.io", Kind: "PeerAuthentication", Namespace: pa.GetNamespace(), Name: pa.GetName()},
			Mode:   mode, Selector: selector,
		})
	}

	if err := s.readGateways(ctx, c, o); err != nil {
		return nil, err
	}

	for rev := range snap.ControlPlanes {
		var cm corev1.ConfigMap
		name := injectorConfigMapName(rev)
		switch err := c.Get(ctx, client.ObjectKey{Namespace: o.IstioNamespace, Name: name}, &cm); {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("ConfigMap/%s/%s: reading the injector values: %w", o.IstioNamespace, name, err)
		}
		if tag := injectedProxyTag(cm.Data["values"]); tag != "" {
			s.ProxyTags[rev] = tag
		}
	}
	return s, nil
}

// injectorConfigMapName is the ConfigMap holding a revision's injection
// template and the chart values it was rendered with.
func injectorConfigMapName(rev string) string { return "istio-sidecar-injector-" + rev }

// injectedProxyTag reads global.tag from an injector's values JSON: the
// tag of the proxy image the revision injects. "" when absent or unreadable.
func injectedProxyTag(values string) string {
	var v struct {
		Global struct {
			Tag any `json:"tag"`
		} `json:"global"`
	}
	if json.Unmarshal([]byte(values), &v) != nil || v.Global.Tag == nil {
		return ""
	}
	return fmt.Sprint(v.Global.Tag)
}

// readGateways lists the Istio Gateways, whose servers' credentialName is
// a Secret in the namespace of the gateway workload (the ingress
// namespace), and the Gateway API Gateways, whose listeners'
// certificateRefs name Secrets in the Gateway's namespace unless they say
// otherwise.
func (s *State) readGateways(ctx context.Context, c client.Client, o Options) error {
	seen := map[ref.Object]Credential{}
	credential := func(secret ref.Object) (Credential, error) {
		if c, ok := seen[secret]; ok {
			return c, nil
		}
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := c.Get(ctx, client.ObjectKey{Namespace: secret.Namespace, Name: secret.Name}, m)
		cred := Credential{Secret: secret, Present: err == nil, Unreadable: apierrors.IsForbidden(err)}
		if err != nil && !apierrors.IsNotFound(err) && !cred.Unreadable {
			return Credential{}, fmt.Errorf("%s: %w", secret, err)
		}
		seen[secret] = cred
		return cred, nil
	}
	secret := func(ns, name string) ref.Object { return ref.Object{Kind: "Secret", Namespace: ns, Name: name} }

	istio, err := listOptional(ctx, c, istioGatewayGVK)
	if err != nil {
		return err
	}
	gapi, err := listOptional(ctx, c, gatewayAPIGatewayGVK)
	if err != nil {
		return err
	}
	for _, gw := range istio {
		g := Gateway{Object: ref.Object{Group: "networking.istio.io", Kind: "Gateway", Namespace: gw.GetNamespace(), Name: gw.GetName()}}
		servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
		var names []string
		for _, sv := range servers {
			m, _ := sv.(map[string]any)
			if name, _, _ := unstructured.NestedString(m, "tls", "credentialName"); name != "" {
				names = append(names, name)
			}
		}
		for _, name := range dedupe(names) {
			cred, err := credential(secret(o.IngressNamespace, name))
			if err != nil {
				return err
			}
			g.Credentials = append(g.Credentials, cred)
		}
		if len(g.Credentials) > 0 {
			s.Gateways = append(s.Gateways, g)
		}
	}
	for _, gw := range gapi {
		g := Gateway{Object: ref.Object{Group: "gateway.networking.k8s.io", Kind: "Gateway", Namespace: gw.GetNamespace(), Name: gw.GetName()}}
		listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
		var refs []ref.Object
		for _, l := range listeners {
			m, _ := l.(map[string]any)
			certs, _, _ := unstructured.NestedSlice(m, "tls", "certificateRefs")
			for _, cr := range certs {
				cm, _ := cr.(map[string]any)
				kind, _, _ := unstructured.NestedString(cm, "kind")
				group, _, _ := unstructured.NestedString(cm, "group")
				if (kind != "" && kind != "Secret") || group != "" {
					continue
				}
				name, _, _ := unstructured.NestedString(cm, "name")
				ns, _, _ := unstructured.NestedString(cm, "namespace")
				if ns == "" {
					ns = gw.GetNamespace()
				}
				if name != "" && !slices.Contains(refs, secret(ns, name)) {
					refs = append(refs, secret(ns, name))
				}
			}
		}
		for _, r := range refs {
			cred, err := credential(r)
			if err != nil {
				return err
			}
			g.Credentials = append(g.Credentials, cred)
		}
		if len(g.Credentials) > 0 {
			s.Gateways = append(s.Gateways, g)
		}
	}
	return nil
}

func dedupe(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}

// listOptional lists a custom kind cluster-wide; a kind the server does not
// know (its CRD not installed) is an empty list.
func listOptional(ctx context.Context, c client.Client, gvk schema.GroupVersionKind) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk)
	if err := c.List(ctx, list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %s.%s: %w", gvk.Kind, gvk.Group, err)
	}
	return list.Items, nil
}
