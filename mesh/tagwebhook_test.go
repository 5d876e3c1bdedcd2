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

// addonInjector is a revision's injector as the istio-discovery chart
// renders it for the AKS add-on: calling istiod-<rev> in aks-istio-system,
// caBundle patched in by istiod.
func addonInjector(t *testing.T, rev string) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	return decode[admissionregistrationv1.MutatingWebhookConfiguration](t, `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector-`+rev+`-aks-istio-system
  labels:
    app: sidecar-injector
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    app.kubernetes.io/version: 1.28.5
    helm.sh/chart: istiod-1.28.5
    install.operator.istio.io/owning-resource: unknown
    istio.io/rev: `+rev+`
    operator.istio.io/component: Pilot
    release: istio
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod-`+rev+`, namespace: aks-istio-system, path: /inject, port: 443}
    caBundle: Q0EtYnVuZGxlLW9mLQ==
  sideEffects: None
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: "*"}]
  failurePolicy: Fail
  matchPolicy: Equivalent
  timeoutSeconds: 10
  reinvocationPolicy: Never
  admissionReviewVersions: [v1]
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: In, values: [`+rev+`]}
    - {key: istio-injection, operator: DoesNotExist}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}
- name: rev.object.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod-`+rev+`, namespace: aks-istio-system, path: /inject, port: 443}
    caBundle: Q0EtYnVuZGxlLW9mLQ==
  sideEffects: None
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: "*"}]
  failurePolicy: Fail
  reinvocationPolicy: Never
  admissionReviewVersions: [v1]
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: DoesNotExist}
    - {key: istio-injection, operator: DoesNotExist}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}
    - {key: istio.io/rev, operator: In, values: [`+rev+`]}
`)
}

func decode[T any](t *testing.T, doc string) *T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict([]byte(doc), &v); err != nil {
		t.Fatalf("test fixture: %v", err)
	}
	return &v
}

// The tag webhook istioctl writes for tag prod-stable on the add-on's
// asm-1-28, written out from revision-tags-mwc.yaml by hand.
const addonTagWebhook = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-revision-tag-prod-stable-aks-istio-system
  labels:
    app: sidecar-injector
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    app.kubernetes.io/version: 1.28.5
    helm.sh/chart: istiod-1.28.5
    istio.io/rev: asm-1-28
    istio.io/tag: prod-stable
    release: istio
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod-asm-1-28, namespace: aks-istio-system, path: /inject, port: 443}
    caBundle: Q0EtYnVuZGxlLW9mLQ==
  sideEffects: None
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Fail
  reinvocationPolicy: Never
  admissionReviewVersions: [v1]
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: In, values: [prod-stable]}
    - {key: istio-injection, operator: DoesNotExist}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}
- name: rev.object.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod-asm-1-28, namespace: aks-istio-system, path: /inject, port: 443}
    caBundle: Q0EtYnVuZGxlLW9mLQ==
  sideEffects: None
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Fail
  reinvocationPolicy: Never
  admissionReviewVersions: [v1]
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: DoesNotExist}
    - {key: istio-injection, operator: DoesNotExist}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}
    - {key: istio.io/rev, operator: In, values: [prod-stable]}
`

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
		name           string
		injector       func(*admissionregistrationv1.MutatingWebhookConfiguration)
		tag, istioNS   string
		want           func(*admissionregistrationv1.MutatingWebhookConfiguration)
		wantNamePrefix string
	}{
		{name: "fresh tag on the add-on's revision", tag: "prod-stable", istioNS: "aks-istio-system"},
		{
			name: "istio-system: no namespace suffix, service in istio-system",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) {
				in.Name = "istio-sidecar-injector-asm-1-28"
			},
			tag: "prod-stable", istioNS: "istio-system",
			want: func(w *admissionregistrationv1.MutatingWebhookConfiguration) {
				w.Name = "istio-revision-tag-prod-stable"
				each(w, func(h *admissionregistrationv1.MutatingWebhook) { h.ClientConfig.Service.Namespace = "istio-system" })
			},
		},
		{
			name: "no istio namespace means istio-system, as istioctl's flag default",
			tag:  "prod-stable", istioNS: "",
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
			tag: "prod-stable", istioNS: "aks-istio-system",
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
			tag: "prod-stable", istioNS: "aks-istio-system",
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
			tag: "prod-stable", istioNS: "aks-istio-system",
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
			tag: "prod-stable", istioNS: "aks-istio-system",
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
			got, err := TagWebhook(in, tt.tag, "asm-1-28", tt.istioNS)
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

func TestTagWebhookRefusesWhatIstioctlWouldNotWrite(t *testing.T) {
	tests := []struct {
		name          string
		injector      func(*admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration
		tag, revision string
		wantErr       string
	}{
		{name: "tag equal to the revision", tag: "asm-1-28", revision: "asm-1-28", wantErr: "equals a revision name"},
		{name: "istioctl's default tag", tag: "default", revision: "asm-1-28", wantErr: "default tag"},
		{name: "empty tag", tag: "", revision: "asm-1-28", wantErr: "empty"},
		{name: "tag that is no label value", tag: "Prod_Stable", revision: "asm-1-28", wantErr: "not a valid name"},
		{name: "tag too long for its Service name", tag: strings.Repeat("t", 44), revision: "asm-1-28", wantErr: "not a valid name"},
		{name: "no revision", tag: "prod-stable", revision: "", wantErr: "no revision"},
		{
			name: "no injector", tag: "prod-stable", revision: "asm-1-28", wantErr: "no injector",
			injector: func(*admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				return nil
			},
		},
		{name: "another revision's injector", tag: "prod-stable", revision: "asm-1-29", wantErr: `serves revision "asm-1-28"`},
		{
			name: "a tag webhook instead of an injector", tag: "prod-stable", revision: "asm-1-28", wantErr: `webhook of revision tag "canary"`,
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				in.Labels[TagLabel] = "canary"
				return in
			},
		},
		{
			name: "an injector without sidecar-injector entries", tag: "prod-stable", revision: "asm-1-28", wantErr: "no webhook named",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				in.Webhooks = in.Webhooks[:0]
				return in
			},
		},
		{
			name: "an injector entry calling nothing", tag: "prod-stable", revision: "asm-1-28", wantErr: "neither a URL nor a Service",
			injector: func(in *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
				in.Webhooks[0].ClientConfig.Service = nil
				return in
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := addonInjector(t, "asm-1-28")
			if tt.injector != nil {
				in = tt.injector(in)
			}
			got, err := TagWebhook(in, tt.tag, tt.revision, "aks-istio-system")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("TagWebhook() = %v, %v; want an error containing %q", got, err, tt.wantErr)
			}
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

func addonIstiodService(t *testing.T, rev string) *corev1.Service {
	t.Helper()
	return decode[corev1.Service](t, `
apiVersion: v1
kind: Service
metadata:
  name: istiod-`+rev+`
  namespace: aks-istio-system
  labels:
    app: istiod
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    app.kubernetes.io/version: 1.28.5
    helm.sh/chart: istiod-1.28.5
    install.operator.istio.io/owning-resource: unknown
    istio: pilot
    istio.io/rev: `+rev+`
    operator.istio.io/component: Pilot
    release: istio
spec:
  clusterIP: 10.0.0.118
  type: ClusterIP
  ports:
  - {name: grpc-xds, port: 15010, protocol: TCP, targetPort: 15010}
  - {name: https-dns, port: 15012, protocol: TCP, targetPort: 15012}
  - {name: https-webhook, port: 443, protocol: TCP, targetPort: 15017}
  - {name: http-monitoring, port: 15014, protocol: TCP, targetPort: 15014}
  selector: {app: istiod, istio.io/rev: `+rev+`}
`)
}

func TestTagServiceIsWhatIstioctlWrites(t *testing.T) {
	tests := []struct {
		name, rev, istioNS string
		istiod             func(*corev1.Service)
		want               string
	}{
		{name: "fresh tag on the add-on's revision", rev: "asm-1-28", istioNS: "aks-istio-system", want: `
apiVersion: v1
kind: Service
metadata:
  name: istiod-revision-tag-prod-stable
  namespace: aks-istio-system
  labels:
    app: istiod
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    app.kubernetes.io/version: 1.28.5
    helm.sh/chart: istiod-1.28.5
    istio: pilot
    istio.io/rev: asm-1-28
    istio.io/tag: prod-stable
    release: istio
spec:
  ports:
  - {name: grpc-xds, port: 15010, protocol: TCP}
  - {name: https-dns, port: 15012, protocol: TCP}
  - {name: https-webhook, port: 443, protocol: TCP, targetPort: 15017}
  - {name: http-monitoring, port: 15014, protocol: TCP}
  selector: {app: istiod, istio.io/rev: asm-1-28}
`},
		{
			name: "moved to the next revision; the revision's own labels and ports do not leak", rev: "asm-1-29", istioNS: "aks-istio-system",
			istiod: func(s *corev1.Service) {
				s.Labels[versionLabel], s.Labels[chartLabel], s.Labels["team"] = "1.29.1", "istiod-1.29.1", "mesh"
				s.Spec.Ports[0].Port = 15011
			},
			want: `
apiVersion: v1
kind: Service
metadata:
  name: istiod-revision-tag-prod-stable
  namespace: aks-istio-system
  labels:
    app: istiod
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    app.kubernetes.io/version: 1.29.1
    helm.sh/chart: istiod-1.29.1
    istio: pilot
    istio.io/rev: asm-1-29
    istio.io/tag: prod-stable
    release: istio
spec:
  ports:
  - {name: grpc-xds, port: 15010, protocol: TCP}
  - {name: https-dns, port: 15012, protocol: TCP}
  - {name: https-webhook, port: 443, protocol: TCP, targetPort: 15017}
  - {name: http-monitoring, port: 15014, protocol: TCP}
  selector: {app: istiod, istio.io/rev: asm-1-29}
`},
		{
			name: "istio-system", rev: "1-29-0", istioNS: "",
			istiod: func(s *corev1.Service) {
				s.Namespace = "istio-system"
				delete(s.Labels, versionLabel)
				delete(s.Labels, chartLabel)
			},
			want: `
apiVersion: v1
kind: Service
metadata:
  name: istiod-revision-tag-prod-stable
  namespace: istio-system
  labels:
    app: istiod
    app.kubernetes.io/instance: istio
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/name: istiod
    app.kubernetes.io/part-of: istio
    istio: pilot
    istio.io/rev: 1-29-0
    istio.io/tag: prod-stable
    release: istio
spec:
  ports:
  - {name: grpc-xds, port: 15010, protocol: TCP}
  - {name: https-dns, port: 15012, protocol: TCP}
  - {name: https-webhook, port: 443, protocol: TCP, targetPort: 15017}
  - {name: http-monitoring, port: 15014, protocol: TCP}
  selector: {app: istiod, istio.io/rev: 1-29-0}
`},
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
			assertSameObject(t, got, decode[corev1.Service](t, tt.want))
		})
	}
}

func TestTagServiceRefusesWhatIsNotTheRevisionsIstiod(t *testing.T) {
	tests := []struct {
		name          string
		istiod        func(*corev1.Service) *corev1.Service
		tag, revision string
		wantErr       string
	}{
		{name: "tag equal to the revision", tag: "asm-1-28", revision: "asm-1-28", wantErr: "equals a revision name"},
		{name: "istioctl's default tag", tag: "default", revision: "asm-1-28", wantErr: "default tag"},
		{name: "no Service", tag: "prod-stable", revision: "asm-1-28", wantErr: "no istiod Service",
			istiod: func(*corev1.Service) *corev1.Service { return nil }},
		{name: "another revision's istiod", tag: "prod-stable", revision: "asm-1-29", wantErr: `serves revision "asm-1-28"`},
		{name: "a tag's Service", tag: "prod-stable", revision: "asm-1-28", wantErr: `Service of revision tag "canary"`,
			istiod: func(s *corev1.Service) *corev1.Service { s.Labels[TagLabel] = "canary"; return s }},
		{name: "not istiod", tag: "prod-stable", revision: "asm-1-28", wantErr: "app=istiod",
			istiod: func(s *corev1.Service) *corev1.Service { s.Labels["app"] = "gateway"; return s }},
		{name: "outside the istio namespace", tag: "prod-stable", revision: "asm-1-28", wantErr: "not in the istio namespace",
			istiod: func(s *corev1.Service) *corev1.Service { s.Namespace = "default"; return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := addonIstiodService(t, "asm-1-28")
			if tt.istiod != nil {
				svc = tt.istiod(svc)
			}
			got, err := TagService(svc, tt.tag, tt.revision, "aks-istio-system")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("TagService() = %v, %v; want an error containing %q", got, err, tt.wantErr)
			}
		})
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
