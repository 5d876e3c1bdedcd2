package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/simmesh"
)

// IstioNamespace is where the AKS add-on runs its control planes.
const IstioNamespace = "aks-istio-system"

// fieldOwner manages what the local control plane installs, so tests can
// tell those fields from meshops' own.
const fieldOwner = "meshops-local-control-plane"

// Istiod is one revision's local istiod process.
type Istiod struct {
	Revision string
	// ProxyTag is the proxy image tag this revision injects.
	ProxyTag string
	// WebhookURL is where the apiserver calls its injector.
	WebhookURL string
	// ReadyURL answers 200 once istiod serves.
	ReadyURL string
}

// neverReadyTemplate is the injection template a never-ready revision adds
// to its default ones: Istio merges it into every pod it injects.
var neverReadyTemplate = fmt.Sprintf("metadata:\n  labels:\n    %s: \"true\"\n", NeverReadyLabel)

// renderArgs are istioctl's arguments for rev's install under opts.
func renderArgs(rev string, opts Options) []string {
	args := []string{"manifest", "generate",
		"--set", "revision=" + rev,
		"--set", "profile=minimal",
		"--set", "values.global.istioNamespace=" + IstioNamespace,
		"--set", "values.global.tag=" + opts.ProxyTag(rev),
	}
	if slices.Contains(opts.NeverReadyRevisions, rev) {
		args = append(args,
			"--set", "values.sidecarInjectorWebhook.templates.never-ready="+neverReadyTemplate,
			"--set", "values.sidecarInjectorWebhook.defaultTemplates[0]=sidecar",
			"--set", "values.sidecarInjectorWebhook.defaultTemplates[1]=never-ready",
		)
	}
	return args
}

// renderRevision renders a revision's install from Istio's own charts with
// istioctl, offline, as the add-on would install it outside istio-system.
func renderRevision(ctx context.Context, rev string, opts Options) ([]*unstructured.Unstructured, error) {
	bin, err := binaries.Istioctl.Path()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, renderArgs(rev, opts)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("istioctl manifest generate for %s: %w: %s", rev, err, stderr.String())
	}
	objs, err := simmesh.Decode(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("istioctl manifest generate for %s: %w", rev, err)
	}
	var keep []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		// CRDs are installed once, from istio.io/api; nothing here scales.
		case "CustomResourceDefinition", "HorizontalPodAutoscaler":
			continue
		}
		keep = append(keep, o)
	}
	return keep, nil
}

// pointWebhooksAt replaces the service in each webhook's client config with
// the local istiod's URL: there is no kube-proxy here to reach a Service.
// Everything else stays as the chart rendered it.
func pointWebhooksAt(o *unstructured.Unstructured, base string) error {
	hooks, _, err := unstructured.NestedSlice(o.Object, "webhooks")
	if err != nil {
		return err
	}
	for i, h := range hooks {
		hm := h.(map[string]any)
		cc, _, _ := unstructured.NestedMap(hm, "clientConfig")
		path := "/inject"
		if svc, ok := cc["service"].(map[string]any); ok {
			if p, ok := svc["path"].(string); ok && p != "" {
				path = p
			}
		}
		hm["clientConfig"] = map[string]any{"url": base + path}
		hooks[i] = hm
	}
	return unstructured.SetNestedSlice(o.Object, hooks, "webhooks")
}

func (c *Cluster) installRevision(ctx context.Context, cl client.Client, rev string, opts Options) (*Istiod, error) {
	proxyTag, log := opts.ProxyTag(rev), opts.Log
	objs, err := renderRevision(ctx, rev, opts)
	if err != nil {
		return nil, err
	}
	// Free ports are picked before istiod binds them, and another process
	// (an outbound connection of the API server, a parallel test package)
	// can take one in between: start again on fresh ports a few times.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports := map[string]int{}
		for _, name := range []string{"http", "grpc", "secureGRPC", "https", "monitoring", "ctrlz"} {
			if ports[name], err = freePort(); err != nil {
				return nil, err
			}
		}
		ist := &Istiod{
			Revision:   rev,
			ProxyTag:   proxyTag,
			WebhookURL: fmt.Sprintf("https://localhost:%d", ports["https"]),
			ReadyURL:   fmt.Sprintf("http://127.0.0.1:%d/ready", ports["http"]),
		}
		for _, o := range objs {
			if k := o.GetKind(); k == "MutatingWebhookConfiguration" || k == "ValidatingWebhookConfiguration" {
				if err := pointWebhooksAt(o, ist.WebhookURL); err != nil {
					return nil, fmt.Errorf("%s %s: %w", k, o.GetName(), err)
				}
			}
			// Apply writes the server's answer back into what it applied,
			// managedFields included, which the API server refuses in the
			// next attempt's apply: apply a copy.
			if err := cl.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
				return nil, fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
		}
		if lastErr = c.startIstiod(ctx, ist, ports); lastErr == nil {
			return ist, nil
		}
		fmt.Fprintf(log, "istiod %s did not start (%v); trying other ports\n", rev, lastErr)
	}
	return nil, lastErr
}

func (c *Cluster) startIstiod(ctx context.Context, ist *Istiod, ports map[string]int) error {
	bin, err := binaries.Istiod.Path()
	if err != nil {
		return err
	}
	// Its own working folder: istiod reads mesh config from files there
	// when present, and must find none so that it reads the ConfigMaps.
	work := filepath.Join(c.StateDir, "istiod-"+ist.Revision)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	addr := func(name string) string { return "127.0.0.1:" + strconv.Itoa(ports[name]) }
	p := process{
		Name: "istiod-" + ist.Revision, Path: bin, Dir: work,
		Args: []string{"discovery",
			"--kubeconfig=" + c.Kubeconfig,
			"--namespace=" + IstioNamespace,
			"--httpAddr=" + addr("http"),
			"--grpcAddr=" + addr("grpc"),
			"--secureGRPCAddr=" + addr("secureGRPC"),
			"--httpsAddr=" + addr("https"),
			"--monitoringAddr=" + addr("monitoring"),
			"--ctrlz_port=" + strconv.Itoa(ports["ctrlz"]),
			"--ctrlz_address=127.0.0.1",
			"--log_output_level=default:warn",
		},
		Env: []string{
			"POD_NAMESPACE=" + IstioNamespace,
			"POD_NAME=istiod-" + ist.Revision + "-local",
			"REVISION=" + ist.Revision,
			// Puts DNS:localhost in istiod's serving certificate, so the
			// apiserver can call https://localhost:<port>.
			"ISTIOD_CUSTOM_HOST=localhost",
			"CLUSTER_ID=Kubernetes",
			// istiod patches caBundle only into webhooks it is told about.
			"INJECTION_WEBHOOK_CONFIG_NAME=" + mesh.InjectorWebhookName(ist.Revision, IstioNamespace),
			"VALIDATION_WEBHOOK_CONFIG_NAME=istio-validator-" + ist.Revision + "-" + IstioNamespace,
			"PILOT_ENABLE_GATEWAY_API=false",
			"PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER=false",
		},
	}
	if err := p.start(c.StateDir); err != nil {
		return err
	}
	if err := waitHTTP(ctx, nil, ist.ReadyURL, 60*time.Second, func() bool { return running(c.StateDir, p.Name) }); err != nil {
		return fmt.Errorf("istiod %s not ready (log: %s): %w", ist.Revision, logFile(c.StateDir, p.Name), err)
	}
	c.mu.Lock()
	c.Endpoints[p.Name] = ist.WebhookURL
	c.mu.Unlock()
	return nil
}

// StopIstiod stops one revision's istiod process, for tests of an
// unhealthy control plane.
func (c *Cluster) StopIstiod(rev string) error {
	_, err := stop(c.StateDir, "istiod-"+rev, 10*time.Second)
	return err
}

// waitCABundle waits until istiod has patched its CA into the injector
// webhook: before that the apiserver cannot call it.
func waitCABundle(ctx context.Context, cs kubernetes.Interface, rev string, timeout time.Duration) error {
	name := mesh.InjectorWebhookName(rev, IstioNamespace)
	deadline := time.Now().Add(timeout)
	for {
		wh, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			patched := len(wh.Webhooks) > 0
			for _, h := range wh.Webhooks {
				patched = patched && len(h.ClientConfig.CABundle) > 0
			}
			if patched {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("istiod %s did not patch caBundle into %s", rev, name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SetProxyTag changes the proxy image tag a revision injects, the way the
// managed add-on patches istiod in place: pods keep running the revision
// with an older proxy, which is patch drift.
func SetProxyTag(ctx context.Context, cs kubernetes.Interface, rev, tag string) error {
	name := "istio-sidecar-injector-" + rev
	cm, err := cs.CoreV1().ConfigMaps(IstioNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	values := map[string]any{}
	if err := json.Unmarshal([]byte(cm.Data["values"]), &values); err != nil {
		return fmt.Errorf("ConfigMap %s/%s values: %w", IstioNamespace, name, err)
	}
	global, _ := values["global"].(map[string]any)
	if global == nil {
		return fmt.Errorf("ConfigMap %s/%s values has no global section", IstioNamespace, name)
	}
	global["tag"] = tag
	data, err := json.Marshal(values)
	if err != nil {
		return err
	}
	cm.Data["values"] = string(data)
	_, err = cs.CoreV1().ConfigMaps(IstioNamespace).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// ensureNamespace creates the namespace unless it exists.
func ensureNamespace(ctx context.Context, cl client.Client, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cl.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
