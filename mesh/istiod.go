package mesh

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Objects the control plane owns. istiod and its installer (the AKS add-on,
// or the istio-discovery chart) write them and read them back: the injector
// template, the mesh config, the values the chart was rendered with, the
// webhooks, istiod's own Deployment and Service. A config repo that wrote
// one would replace what istiod injects into every pod, so meshops refuses
// them, whatever the namespace, and whoever asks.

// istiodLabels are labels only the control plane's own objects carry (the
// chart's app/istio labels, the installer's ownership labels), with the
// value that marks them; "" matches any value.
var istiodLabels = map[string]string{
	"app":                         "istiod",
	"app.kubernetes.io/name":      "istiod",
	"istio":                       "pilot",
	"operator.istio.io/component": "",
	"install.operator.istio.io/owning-resource": "",
}

// sidecarInjectorApp is the app label of the injector ConfigMap and webhook.
const sidecarInjectorApp = "sidecar-injector"

var (
	configMapGK         = schema.GroupKind{Kind: "ConfigMap"}
	serviceGK           = schema.GroupKind{Kind: "Service"}
	deploymentGK        = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	mutatingWebhookGK   = schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}
	validatingWebhookGK = schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}
)

// IstiodObject reports whether an object with this group, kind, name and
// labels is one the control plane owns, and says which, for messages:
//
//   - ConfigMaps named istio or istio-* (the mesh config istio-<rev>, the
//     injector config istio-sidecar-injector-<rev>, the CA root certificate,
//     leader elections), except the shared ConfigMap istio-shared-configmap-<rev>
//     that the add-on leaves to its users, and values or values-<rev>;
//   - istiod's Deployment and Service, istiod and istiod-*, including the
//     revision-tag Services meshops itself writes through the tag step;
//   - the injector and tag webhooks (istio-sidecar-injector*, istio-revision-tag-*)
//     and the validating webhooks (istio-validator*, istiod-default-validator);
//   - anything labelled as istiod's or its installer's (see istiodLabels).
func IstiodObject(gk schema.GroupKind, name string, labels map[string]string) (string, bool) {
	switch gk {
	case configMapGK:
		switch {
		case strings.HasPrefix(name, SharedConfigMapPrefix):
			// The add-on's documented place for users' mesh config.
		case name == "istio" || strings.HasPrefix(name, "istio-sidecar-injector"):
			return "the sidecar injector's or mesh config of a revision", true
		case strings.HasPrefix(name, "istio-"):
			return "a ConfigMap of the control plane (mesh config istio-<rev>, CA root certificate, leader election)", true
		case name == "values" || strings.HasPrefix(name, "values-"):
			return "the values a revision was installed with", true
		}
	case deploymentGK, serviceGK:
		if name == "istiod" || strings.HasPrefix(name, "istiod-") {
			return "istiod itself (or the Service of a revision tag, which meshops writes in its tag step)", true
		}
	case mutatingWebhookGK:
		if strings.HasPrefix(name, "istio-sidecar-injector") || strings.HasPrefix(name, "istio-revision-tag-") {
			return "the injector webhook of a revision or tag (meshops writes tags in its tag step)", true
		}
	case validatingWebhookGK:
		if strings.HasPrefix(name, "istio-validator") || name == "istiod-default-validator" {
			return "istiod's validating webhook", true
		}
	}
	for k, v := range istiodLabels {
		if got, ok := labels[k]; ok && (v == "" || got == v) {
			return "labelled " + k + " as the control plane's own", true
		}
	}
	if labels["app"] == sidecarInjectorApp {
		return "labelled app=" + sidecarInjectorApp + " as the injector's own", true
	}
	return "", false
}
