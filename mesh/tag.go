package mesh

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

const (
	// TagLabel marks a revision-tag webhook with its tag name. The webhook's
	// istio.io/rev label names the revision it points at, not the tag.
	TagLabel = "istio.io/tag"
	// DefaultIstioNamespace is upstream Istio's; names of objects installed
	// anywhere else get a -<namespace> suffix.
	DefaultIstioNamespace = "istio-system"
	// AKSIstioNamespace is where the AKS add-on runs istiod and its
	// webhooks, and where the per-revision mesh ConfigMaps live: meshops'
	// default.
	AKSIstioNamespace = "aks-istio-system"
)

// suffix is what Istio appends to cluster-scoped names of a control plane
// installed outside istio-system.
func suffix(istioNamespace string) string {
	if istioNamespace == "" || istioNamespace == DefaultIstioNamespace {
		return ""
	}
	return "-" + istioNamespace
}

// IstiodName is the Deployment and Service of a revision's istiod.
func IstiodName(rev string) string { return "istiod-" + rev }

// InjectorWebhookName is the revision's injector webhook as the
// istio-discovery chart names it.
func InjectorWebhookName(rev, istioNamespace string) string {
	return "istio-sidecar-injector-" + rev + suffix(istioNamespace)
}

// TagWebhookName is the tag's webhook as `istioctl tag set` names it.
func TagWebhookName(tag, istioNamespace string) string {
	return "istio-revision-tag-" + tag + suffix(istioNamespace)
}

// TagServiceName is the Service istioctl (1.28+) creates for a tag.
func TagServiceName(tag string) string { return "istiod-revision-tag-" + tag }

// TagTarget returns the revision a tag webhook points at: its istio.io/rev
// label as istioctl writes it, else the istiod Service its first webhook
// calls (istiod-<rev>), for tags written by other tools.
func TagTarget(wh *admissionregistrationv1.MutatingWebhookConfiguration) (string, bool) {
	if rev := wh.Labels[RevisionLabel]; rev != "" {
		return rev, true
	}
	for _, h := range wh.Webhooks {
		if svc := h.ClientConfig.Service; svc != nil {
			if rev, ok := strings.CutPrefix(svc.Name, "istiod-"); ok && rev != "" && !strings.HasPrefix(rev, "revision-tag-") {
				return rev, true
			}
		}
	}
	return "", false
}

// CheckTagName refuses a tag that shadows a revision: namespaces labelled
// with it would match both the tag's and the revision's webhook.
func CheckTagName(tag string, revisions []string) error {
	if tag == "" {
		return fmt.Errorf("revision tag is empty")
	}
	for _, r := range revisions {
		if r == tag {
			return fmt.Errorf("revision tag %q equals a revision name; choose a tag name that is not a revision (e.g. prod-stable)", tag)
		}
	}
	return nil
}
