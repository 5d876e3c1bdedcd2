// Package simmesh installs a simulated AKS-managed Istio add-on into an API
// server: per revision an istiod Deployment, its Service and its injector
// webhook as Istio's chart renders them, plus the ingress gateway. It is for
// package tests and the objects-only local cluster, where nothing runs pods:
// the Deployments' status is written here, which is what meshops reads to
// judge a control plane's health.
package simmesh

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

//go:embed mesh.yaml.tmpl
var meshTemplate string

// FieldOwner is the field manager of everything simmesh writes, so tests can
// tell the simulated add-on's fields from meshops' own.
const FieldOwner = "aks-istio-addon-simulator"

// Options describes the simulated add-on. DefaultOptions gives the AKS
// layout meshops targets.
type Options struct {
	// Revisions installed side by side, e.g. asm-1-28 and asm-1-29.
	Revisions []string
	// Namespace of the control planes. Default aks-istio-system.
	Namespace string
	// IngressNamespace and IngressName locate the shared gateway.
	// Defaults aks-istio-ingress and aks-istio-ingressgateway-external.
	IngressNamespace string
	IngressName      string
	// ProxyTags maps a revision to the proxy image tag it injects; a revision
	// missing here gets its numbers (asm-1-29 → 1.29.0).
	ProxyTags map[string]string
	// FailurePolicy of the injector webhooks. The chart says Fail; since
	// nothing serves the simulated webhooks, tests that create pods in
	// injected namespaces use Ignore.
	FailurePolicy string
	// IngressIP is the load balancer address written into the gateway
	// Service's status. Default 20.1.2.3.
	IngressIP string
}

// DefaultOptions is the AKS add-on with revisions asm-1-28 and asm-1-29.
func DefaultOptions() Options {
	return Options{
		Revisions:        []string{"asm-1-28", "asm-1-29"},
		Namespace:        "aks-istio-system",
		IngressNamespace: "aks-istio-ingress",
		IngressName:      "aks-istio-ingressgateway-external",
		FailurePolicy:    "Fail",
		IngressIP:        "20.1.2.3",
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if len(o.Revisions) == 0 {
		o.Revisions = d.Revisions
	}
	if o.Namespace == "" {
		o.Namespace = d.Namespace
	}
	if o.IngressNamespace == "" {
		o.IngressNamespace = d.IngressNamespace
	}
	if o.IngressName == "" {
		o.IngressName = d.IngressName
	}
	if o.FailurePolicy == "" {
		o.FailurePolicy = d.FailurePolicy
	}
	if o.IngressIP == "" {
		o.IngressIP = d.IngressIP
	}
	return o
}

// ProxyTag is the proxy image tag the revision injects.
func (o Options) ProxyTag(rev string) string {
	if t, ok := o.ProxyTags[rev]; ok {
		return t
	}
	return strings.ReplaceAll(strings.TrimPrefix(rev, "asm-"), "-", ".") + ".0"
}

// Target is the newest revision, which the ingress gateway runs.
func (o Options) Target() string { return o.Revisions[len(o.Revisions)-1] }

// Render returns the simulated add-on's objects, in install order.
func Render(opts Options) ([]*unstructured.Unstructured, error) {
	opts = opts.withDefaults()
	tmpl, err := template.New("mesh.yaml.tmpl").Option("missingkey=error").Parse(meshTemplate)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, opts); err != nil {
		return nil, fmt.Errorf("rendering simulated mesh: %w", err)
	}
	return Decode(&buf)
}

// Decode reads a multi-document YAML stream into objects, skipping empty
// documents.
func Decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var objs []*unstructured.Unstructured
	for {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, err
		}
		if len(u.Object) == 0 {
			continue
		}
		objs = append(objs, u)
	}
}

// Install applies the simulated add-on and marks every control plane and
// the gateway healthy.
func Install(ctx context.Context, c client.Client, opts Options) error {
	opts = opts.withDefaults()
	objs, err := Render(opts)
	if err != nil {
		return err
	}
	for _, u := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	for _, rev := range opts.Revisions {
		if err := SetDeploymentReady(ctx, c, opts.Namespace, "istiod-"+rev, true); err != nil {
			return err
		}
	}
	if err := SetDeploymentReady(ctx, c, opts.IngressNamespace, opts.IngressName, true); err != nil {
		return err
	}
	return SetLoadBalancerIP(ctx, c, opts.IngressNamespace, opts.IngressName, opts.IngressIP)
}

// SetLoadBalancerIP writes the address a cloud load balancer would into a
// LoadBalancer Service's status: no cloud controller runs here.
func SetLoadBalancerIP(ctx context.Context, c client.Client, namespace, name, ip string) error {
	lb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"status": map[string]any{"loadBalancer": map[string]any{
			"ingress": []any{map[string]any{"ip": ip}},
		}},
	}}
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(lb), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("Service %s/%s status: %w", namespace, name, err)
	}
	return nil
}

// SetDeploymentReady writes the status a Deployment controller would: fully
// rolled out and available when ready, no ready replicas otherwise. Tests
// use it to make a revision unhealthy.
func SetDeploymentReady(ctx context.Context, c client.Client, namespace, name string, ready bool) error {
	d := &unstructured.Unstructured{}
	d.SetAPIVersion("apps/v1")
	d.SetKind("Deployment")
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		return fmt.Errorf("Deployment %s/%s: %w", namespace, name, err)
	}
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	readyN, available := replicas, "True"
	if !ready {
		readyN, available = 0, "False"
	}
	st := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"status": map[string]any{
			"observedGeneration": d.GetGeneration(),
			"replicas":           replicas,
			"updatedReplicas":    replicas,
			"readyReplicas":      readyN,
			"availableReplicas":  readyN,
			"conditions": []any{map[string]any{
				"type": "Available", "status": available, "reason": "SimulatedByMeshopsTests",
			}},
		},
	}}
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(st), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("Deployment %s/%s status: %w", namespace, name, err)
	}
	return nil
}

// ExampleNamespaces are the mesh namespaces of configs/examples/aro-hcp-dev.
var ExampleNamespaces = []string{"aro-hcp", "clusters-service", "maestro"}

// InstallExample installs the simulated add-on (injector webhooks set to
// Ignore: nothing serves them) and the example repo's namespaces, for
// tests that run meshops on configs/examples/aro-hcp-dev. It may run more
// than once against one API server.
func InstallExample(ctx context.Context, c client.Client) error {
	opts := DefaultOptions()
	opts.FailurePolicy = "Ignore"
	if err := Install(ctx, c, opts); err != nil {
		return err
	}
	for _, ns := range ExampleNamespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	return nil
}
