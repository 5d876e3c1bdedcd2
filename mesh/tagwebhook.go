package mesh

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TagWebhook builds the tag's webhook configuration from the revision's
// injector: its webhook entries with the istio.io/rev selectors matching
// the tag, labelled istio.io/tag=<tag> and istio.io/rev=<revision>. Field
// by field conformance with `istioctl tag generate` is checked separately.
func TagWebhook(injector *admissionregistrationv1.MutatingWebhookConfiguration, tag, revision, istioNamespace string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	if err := CheckTagName(tag, []string{revision}); err != nil {
		return nil, err
	}
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: TagWebhookName(tag, istioNamespace), Labels: map[string]string{
			TagLabel: tag, RevisionLabel: revision, "app": "sidecar-injector",
		}},
	}
	for _, h := range injector.Webhooks {
		h := *h.DeepCopy()
		replaceRev := func(sel *metav1.LabelSelector) {
			if sel == nil {
				return
			}
			for i, r := range sel.MatchExpressions {
				if r.Key == "istio.io/rev" && r.Operator == metav1.LabelSelectorOpIn {
					sel.MatchExpressions[i].Values = []string{tag}
				}
			}
		}
		replaceRev(h.NamespaceSelector)
		replaceRev(h.ObjectSelector)
		wh.Webhooks = append(wh.Webhooks, h)
	}
	return wh, nil
}

// TagService is the Service istioctl (1.28+) creates for a tag: the
// revision's istiod ports and selector under the tag's name.
func TagService(istiod *corev1.Service, tag, revision, istioNamespace string) (*corev1.Service, error) {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: TagServiceName(tag), Namespace: istioNamespace, Labels: map[string]string{TagLabel: tag, RevisionLabel: revision}},
		Spec:       corev1.ServiceSpec{Ports: istiod.Spec.Ports, Selector: istiod.Spec.Selector},
	}, nil
}
