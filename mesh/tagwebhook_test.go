package mesh

import (
	"reflect"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// chartLabelsYAML are the labels the istio-discovery chart 1.28.5 puts on
// all it renders (its istio.labels helper, release "istio").
const chartLabelsYAML = `
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    app.kubernetes.io/version: 1.28.5
    helm.sh/chart: istiod-1.28.5`

// chartWebhook is a MutatingWebhookConfiguration as the istio-discovery
// chart renders both a revision's injector and a revision tag for the AKS
// add-on: the same two entries, calling istiod-<rev> in aks-istio-system
// (caBundle patched in by istiod) and selecting istio.io/rev=<selected>.
// extraLabels and extraFields (indented YAML lines) complete it.
func chartWebhook(name, rev, selected, extraLabels, extraFields string) string {
	entry := func(prefix, nsSel, objSel string) string {
		return `
- name: ` + prefix + `sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod-` + rev + `, namespace: aks-istio-system, path: /inject, port: 443}
    caBundle: Q0EtYnVuZGxlLW9mLQ==
  sideEffects: None
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Fail
  reinvocationPolicy: Never
  admissionReviewVersions: [v1]` + extraFields + `
  namespaceSelector:
    matchExpressions:` + nsSel + `
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}` + objSel
	}
	return `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: ` + name + `
  labels:
    app: sidecar-injector` + chartLabelsYAML + `
    istio.io/rev: ` + rev + `
    release: istio` + extraLabels + `
webhooks:` +
		entry("rev.namespace.", `
    - {key: istio.io/rev, operator: In, values: [`+selected+`]}
    - {key: istio-injection, operator: DoesNotExist}`, "") +
		entry("rev.object.", `
    - {key: istio.io/rev, operator: DoesNotExist}
    - {key: istio-injection, operator: DoesNotExist}`, `
    - {key: istio.io/rev, operator: In, values: [`+selected+`]}`)
}

// addonInjector is a revision's injector as the add-on installs it, with
// the installer's labels and the fields the API server defaults.
func addonInjector(t *testing.T, rev string) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	return decode[admissionregistrationv1.MutatingWebhookConfiguration](t, chartWebhook(
		"istio-sidecar-injector-"+rev+"-aks-istio-system", rev, rev, `
    install.operator.istio.io/owning-resource: unknown
    operator.istio.io/component: Pilot`, `
  matchPolicy: Equivalent
  timeoutSeconds: 10`))
}

// The tag webhook istioctl writes for tag prod-stable on the add-on's
// asm-1-28, following revision-tags-mwc.yaml.
var addonTagWebhook = chartWebhook("istio-revision-tag-prod-stable-aks-istio-system", "asm-1-28", "prod-stable", `
    istio.io/tag: prod-stable`, "")

func decode[T any](t *testing.T, doc string) *T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict([]byte(doc), &v); err != nil {
		t.Fatalf("test fixture: %v", err)
	}
	return &v
}

func TestTagWebhookIsWhatIstioctlWritesFromTheInjector(t *testing.T) {
	want := func(t *testing.T, edit func(*admissionregistrationv1.MutatingWebhookConfiguration)) *admissionregistrationv1.MutatingWebhookConfiguration {
		w := decode[admissionregistrationv1.MutatingWebhookConfiguration](t, addonTagWebhook)
		if edit != nil {
			edit(w)
		}
		return w
	}
	each := func(w *admissionregistrationv1.MutatingWebhookConfiguration, f func(*admissionregistrationv1.MutatingWebhook)) {
		for i := range w.Webhooks {
			f(&w.Webhooks[i])
		}
	}
	tests := []struct {
		name     string
		injector func(*admissionregistrationv1.MutatingWebhookConfiguration)
		istioNS  string
		want     func(*admissionregistrationv1.MutatingWebhookConfiguration)
	}{
		{name: "fresh tag on the add-on's revision", istioNS: "aks-istio-system"},
		{
			name: "istio-system: no namespace suffix, service in istio-system",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) {
				in.Name = "istio-sidecar-injector-asm-1-28"
			},
			istioNS: "istio-system",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				w.Name = "istio-revision-tag-prod-stable"
				each(w, func(h *admissionregistrationv1.MutatingWebhook) { h.ClientConfig.Service.Namespace = "istio-system" })
			},
		},
		{
			name:    "no istio namespace means istio-system, as istioctl's flag default",
			istioNS: "",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				w.Name = "istio-revision-tag-prod-stable"
				each(w, func(h *admissionregistrationv1.MutatingWebhook) { h.ClientConfig.Service.Namespace = "istio-system" })
			},
		},
		{
			name: "an injector called by URL is called by the same URL",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) {
				each(in, func(h *admissionregistrationv1.MutatingWebhook) {
					h.ClientConfig.Service, h.ClientConfig.URL = nil, ptr.To("https://istiod.example:15017/inject")
				})
			},
			istioNS: "aks-istio-system",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				each(w, func(h *admissionregistrationv1.MutatingWebhook) {
					h.ClientConfig.Service, h.ClientConfig.URL = nil, ptr.To("https://istiod.example:15017/inject")
				})
			},
		},
		{
			name: "the first injector entry's service name, path and caBundle; the chart's port and namespace",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) {
				in.Webhooks = append([]admissionregistrationv1.MutatingWebhook{{Name: "validation.istio.io"}}, in.Webhooks...)
				in.Webhooks[1].ClientConfig.Service = &admissionregistrationv1.ServiceReference{
					Name: "istiod-remote", Namespace: "elsewhere", Path: ptr.To("/inject/cluster/c1/net/n1"), Port: ptr.To[int32](15017),
				}
				in.Webhooks[1].ClientConfig.CABundle = []byte("first")
			},
			istioNS: "aks-istio-system",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				each(w, func(h *admissionregistrationv1.MutatingWebhook) {
					h.ClientConfig.Service.Name = "istiod-remote"
					h.ClientConfig.Service.Path = ptr.To("/inject/cluster/c1/net/n1")
					h.ClientConfig.CABundle = []byte("first")
				})
			},
		},
		{
			name: "the injector's reinvocation policy, labels and annotations, without installer labels and kubectl's record",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) {
				in.Webhooks[0].ReinvocationPolicy = ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy)
				in.Labels["team"] = "mesh"
				in.Labels["release"] = "aks-istio"
				in.Annotations = map[string]string{"owner": "platform", lastAppliedAnnotation: "{}"}
			},
			istioNS: "aks-istio-system",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				each(w, func(h *admissionregistrationv1.MutatingWebhook) {
					h.ReinvocationPolicy = ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy)
				})
				w.Labels["team"] = "mesh"
				w.Labels["release"] = "aks-istio"
				w.Annotations = map[string]string{"owner": "platform"}
			},
		},
		{
			name: "an injector without chart version labels gives none",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) {
				delete(in.Labels, versionLabel)
				delete(in.Labels, chartLabel)
			},
			istioNS: "aks-istio-system",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				delete(w.Labels, versionLabel)
				delete(w.Labels, chartLabel)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := addonInjector(t, "asm-1-28")
			if tt.injector != nil {
				tt.injector(in)
			}
			before := in.DeepCopy()
			got, err := TagWebhook(in, "prod-stable", "asm-1-28", tt.istioNS)
			if err != nil {
				t.Fatal(err)
			}
			assertSameObject(t, got, want(t, tt.want))
			if !reflect.DeepEqual(in, before) {
				t.Error("TagWebhook changed the injector it was given")
			}
		})
	}
}

// Both builders refuse the same tags, before looking at the revision.
func TestTagsIstioctlWouldNotWriteAreRefused(t *testing.T) {
	tests := []struct {
		name, tag, revision, wantErr string
	}{
		{name: "tag equal to the revision", tag: "asm-1-28", revision: "asm-1-28", wantErr: "equals a revision name"},
		{name: "istioctl's default tag", tag: "default", revision: "asm-1-28", wantErr: "default tag"},
		{name: "empty tag", tag: "", revision: "asm-1-28", wantErr: "empty"},
		{name: "tag that is no label value", tag: "Prod_Stable", revision: "asm-1-28", wantErr: "not a valid name"},
		{name: "tag too long for its Service name", tag: strings.Repeat("t", 44), revision: "asm-1-28", wantErr: "not a valid name"},
		{name: "no revision", revision: "", wantErr: "no revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh, err := TagWebhook(addonInjector(t, "asm-1-28"), tt.tag, tt.revision, "aks-istio-system")
			assertRefused(t, wh, err, tt.wantErr)
			svc, err := TagService(addonIstiodService(t, "asm-1-28"), tt.tag, tt.revision, "aks-istio-system")
			assertRefused(t, svc, err, tt.wantErr)
		})
	}
}

func TestTagWebhookRefusesWhatIsNotTheRevisionsInjector(t *testing.T) {
	tests := []struct {
		name     string
		injector func(*admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration
		revision string
		wantErr  string
	}{
		{
			name: "no injector", revision: "asm-1-28", wantErr: "no injector",
			injector: func(*admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				return nil
			},
		},
		{name: "another revision's injector", revision: "asm-1-29", wantErr: `serves revision "asm-1-28"`,
			injector: unchanged[admissionregistrationv1.MutatingWebhookConfiguration]},
		{
			name: "a tag webhook instead of an injector", revision: "asm-1-28", wantErr: `webhook of revision tag "canary"`,
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				in.Labels[TagLabel] = "canary"
				return in
			},
		},
		{
			name: "an injector without sidecar-injector entries", revision: "asm-1-28", wantErr: "no webhook named",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				in.Webhooks = in.Webhooks[:0]
				return in
			},
		},
		{
			name: "an injector entry calling nothing", revision: "asm-1-28", wantErr: "neither a URL nor a Service",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				in.Webhooks[0].ClientConfig.Service = nil
				return in
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TagWebhook(tt.injector(addonInjector(t, "asm-1-28")), "prod-stable", tt.revision, "aks-istio-system")
			assertRefused(t, got, err, tt.wantErr)
		})
	}
}

// Moving a tag is writing the webhook built from the other revision's
// injector: every field that names the revision changes, the tag's own
// name and selectors stay.
func TestTagWebhookForAnotherRevisionDiffersInEveryRevisionField(t *testing.T) {
	old, err := TagWebhook(addonInjector(t, "asm-1-28"), "prod-stable", "asm-1-28", "aks-istio-system")
	if err != nil {
		t.Fatal(err)
	}
	in29 := addonInjector(t, "asm-1-29")
	in29.Labels[versionLabel], in29.Labels[chartLabel] = "1.29.1", "istiod-1.29.1"
	for i := range in29.Webhooks {
		in29.Webhooks[i].ClientConfig.CABundle = []byte("CA of asm-1-29")
	}
	moved, err := TagWebhook(in29, "prod-stable", "asm-1-29", "aks-istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if moved.Name != old.Name {
		t.Errorf("name changed from %s to %s", old.Name, moved.Name)
	}
	for k, want := range map[string]string{RevisionLabel: "asm-1-29", TagLabel: "prod-stable", versionLabel: "1.29.1", chartLabel: "istiod-1.29.1"} {
		if moved.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, moved.Labels[k], want)
		}
	}
	for i, h := range moved.Webhooks {
		o := old.Webhooks[i]
		if h.Name != o.Name || !reflect.DeepEqual(h.NamespaceSelector, o.NamespaceSelector) || !reflect.DeepEqual(h.ObjectSelector, o.ObjectSelector) {
			t.Errorf("webhook %d: name or selectors changed: %+v → %+v", i, o, h)
		}
		if h.ClientConfig.Service.Name != "istiod-asm-1-29" {
			t.Errorf("webhook %s calls %s, want istiod-asm-1-29", h.Name, h.ClientConfig.Service.Name)
		}
		if string(h.ClientConfig.CABundle) != "CA of asm-1-29" {
			t.Errorf("webhook %s keeps the old revision's caBundle", h.Name)
		}
	}
}

// chartService is an istiod Service as the istio-discovery chart renders
// both a revision's (service.yaml) and a tag's (revision-tags-svc.yaml) for
// the AKS add-on. extraLabels and extraSpec (indented YAML lines) complete it.
func chartService(name, rev, extraLabels, extraSpec string) string {
	return `
apiVersion: v1
kind: Service
metadata:
  name: ` + name + `
  namespace: aks-istio-system
  labels:
    app: istiod` + chartLabelsYAML + `
    istio: pilot
    istio.io/rev: ` + rev + `
    release: istio` + extraLabels + `
spec:
  ports:
  - {name: grpc-xds, port: 15010, protocol: TCP}
  - {name: https-dns, port: 15012, protocol: TCP}
  - {name: https-webhook, port: 443, protocol: TCP, targetPort: 15017}
  - {name: http-monitoring, port: 15014, protocol: TCP}
  selector: {app: istiod, istio.io/rev: ` + rev + `}` + extraSpec
}

// addonIstiodService is a revision's istiod Service as the add-on installs
// it, with the installer's labels and what the API server fills in.
func addonIstiodService(t *testing.T, rev string) *corev1.Service {
	t.Helper()
	return decode[corev1.Service](t, chartService("istiod-"+rev, rev, `
    install.operator.istio.io/owning-resource: unknown
    operator.istio.io/component: Pilot`, `
  clusterIP: 10.0.0.118
  type: ClusterIP`))
}

// The tag Service istioctl writes for tag prod-stable on the add-on's
// asm-1-28.
var addonTagService = chartService("istiod-revision-tag-prod-stable", "asm-1-28", `
    istio.io/tag: prod-stable`, "")

func TestTagServiceIsWhatIstioctlWrites(t *testing.T) {
	tests := []struct {
		name, rev, istioNS string
		istiod             func(*corev1.Service)
		want               func(*corev1.Service)
	}{
		{name: "fresh tag on the add-on's revision", rev: "asm-1-28", istioNS: "aks-istio-system"},
		{
			name: "moved to the next revision; the revision's own labels and ports do not leak", rev: "asm-1-29", istioNS: "aks-istio-system",
			istiod: func(s *corev1.Service) {
				s.Labels[versionLabel], s.Labels[chartLabel], s.Labels["team"] = "1.29.1", "istiod-1.29.1", "mesh"
				s.Spec.Ports[0].Port = 15011
			},
			want: func(s *corev1.Service) {
				s.Labels[RevisionLabel], s.Spec.Selector[RevisionLabel] = "asm-1-29", "asm-1-29"
				s.Labels[versionLabel], s.Labels[chartLabel] = "1.29.1", "istiod-1.29.1"
			},
		},
		{
			name: "istio-system, and a revision without chart version labels", rev: "1-29-0", istioNS: "",
			istiod: func(s *corev1.Service) {
				s.Namespace = "istio-system"
				delete(s.Labels, versionLabel)
				delete(s.Labels, chartLabel)
			},
			want: func(s *corev1.Service) {
				s.Namespace = "istio-system"
				s.Labels[RevisionLabel], s.Spec.Selector[RevisionLabel] = "1-29-0", "1-29-0"
				delete(s.Labels, versionLabel)
				delete(s.Labels, chartLabel)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := addonIstiodService(t, tt.rev)
			if tt.istiod != nil {
				tt.istiod(svc)
			}
			got, err := TagService(svc, "prod-stable", tt.rev, tt.istioNS)
			if err != nil {
				t.Fatal(err)
			}
			want := decode[corev1.Service](t, addonTagService)
			if tt.want != nil {
				tt.want(want)
			}
			assertSameObject(t, got, want)
		})
	}
}

func TestTagServiceRefusesWhatIsNotTheRevisionsIstiod(t *testing.T) {
	tests := []struct {
		name     string
		istiod   func(*corev1.Service) *corev1.Service
		revision string
		wantErr  string
	}{
		{name: "no Service", revision: "asm-1-28", wantErr: "no istiod Service",
			istiod: func(*corev1.Service) *corev1.Service { return nil }},
		{name: "another revision's istiod", revision: "asm-1-29", wantErr: `serves revision "asm-1-28"`,
			istiod: unchanged[corev1.Service]},
		{name: "a tag's Service", revision: "asm-1-28", wantErr: `Service of revision tag "canary"`,
			istiod: func(s *corev1.Service) *corev1.Service { s.Labels[TagLabel] = "canary"; return s }},
		{name: "not istiod", revision: "asm-1-28", wantErr: "app=istiod",
			istiod: func(s *corev1.Service) *corev1.Service { s.Labels["app"] = "gateway"; return s }},
		{name: "outside the istio namespace", revision: "asm-1-28", wantErr: "not in the istio namespace",
			istiod: func(s *corev1.Service) *corev1.Service { s.Namespace = "default"; return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TagService(tt.istiod(addonIstiodService(t, "asm-1-28")), "prod-stable", tt.revision, "aks-istio-system")
			assertRefused(t, got, err, tt.wantErr)
		})
	}
}

func unchanged[T any](v *T) *T { return v }

// assertRefused checks that a builder refused with an error saying wantErr.
func assertRefused(t *testing.T, got any, err error, wantErr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Errorf("got %v, %v; want an error containing %q", got, err, wantErr)
	}
}

// assertSameObject compares two objects as the API server would receive
// them, so that a nil and an empty map or list count as the same.
func assertSameObject(t *testing.T, got, want any) {
	t.Helper()
	g, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("got:\n%s\nwant:\n%s", g, w)
	}
}
