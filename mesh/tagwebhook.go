package mesh

import (
	"fmt"
	"maps"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// The builders below write what `istioctl tag set <tag> --revision <rev>
// --overwrite` writes: istioctl renders the istio-discovery chart's
// revision-tags-mwc.yaml and revision-tags-svc.yaml templates with release
// name "istio", then patches in what it reads from the revision's injector.
// The conformance test in test/e2e compares both with istioctl's output.

// injectorWebhookSuffix ends the name of every webhook entry that injects
// sidecars; istioctl takes the client config of the first such entry.
const injectorWebhookSuffix = "sidecar-injector.istio.io"

// The two webhook entries of a tag: one for namespaces labelled with the
// tag, one for pods labelled with it in unlabelled namespaces.
const (
	TagNamespaceWebhook = "rev.namespace." + injectorWebhookSuffix
	TagObjectWebhook    = "rev.object." + injectorWebhookSuffix
)

// Labels of the tag objects beyond tag and revision.
const (
	// versionLabel and chartLabel describe the chart that rendered an
	// object. istioctl stamps those of the chart compiled into it; meshops
	// carries no chart, so it copies the revision's.
	versionLabel = "app.kubernetes.io/version"
	chartLabel   = "helm.sh/chart"
	// operatorLabelMark marks the installer's labels, which istioctl drops
	// from user-managed tags so that `istioctl install` leaves them alone.
	operatorLabelMark = "operator.istio.io"
	// lastAppliedAnnotation is client-side kubectl apply's record of an
	// object; istioctl would copy the injector's onto the tag, where it
	// describes the wrong object, so meshops does not.
	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
)

// defaultTag is special to istioctl: the "default" tag also takes over
// istio-injection=enabled namespaces and cluster-wide validation.
const defaultTag = "default"

// istiodWebhookPort is the Service port the chart points injectors at.
const istiodWebhookPort = 443

// chartLabels are the labels the istio-discovery chart puts on every object
// it renders under istioctl's release name, without the installer's.
func chartLabels(app string) map[string]string {
	return map[string]string{
		"app":                          app,
		"release":                      "istio",
		"app.kubernetes.io/name":       "istiod",
		"app.kubernetes.io/instance":   "istio",
		"app.kubernetes.io/part-of":    "istio",
		"app.kubernetes.io/managed-by": "Helm",
	}
}

// dropOperatorLabels removes the installer's labels, as istioctl does for
// tags it writes (they are user managed).
func dropOperatorLabels(labels map[string]string) {
	for k := range labels {
		if strings.Contains(k, operatorLabelMark) {
			delete(labels, k)
		}
	}
}

// checkTag refuses tags meshops cannot write the way istioctl does.
func checkTag(tag, revision string) error {
	if revision == "" {
		return fmt.Errorf("revision tag %q: no revision to point it at", tag)
	}
	if err := CheckTagName(tag, []string{revision}); err != nil {
		return err
	}
	if tag == defaultTag {
		return fmt.Errorf("revision tag %q: istioctl's default tag also takes over istio-injection=enabled and validation; meshops does not manage it, choose another name (e.g. prod-stable)", tag)
	}
	// The tag is a label value and part of the Service's name.
	errs := validation.IsDNS1123Label(tag)
	errs = append(errs, validation.IsDNS1035Label(TagServiceName(tag))...)
	if len(errs) > 0 {
		return fmt.Errorf("revision tag %q is not a valid name: %s", tag, strings.Join(errs, "; "))
	}
	return nil
}

func istioNamespaceOrDefault(ns string) string {
	if ns == "" {
		return DefaultIstioNamespace
	}
	return ns
}

// TagWebhook returns the tag's MutatingWebhookConfiguration as `istioctl
// tag set <tag> --revision <rev> --overwrite` writes it, derived from the
// revision's injector webhook (found by the caller). Like istioctl it takes
// from the injector the client config (URL, or Service name and path) and
// caBundle of its first sidecar-injector entry, its reinvocation policy, its
// labels (except app; the installer's are dropped) and annotations; the
// webhook name, selectors, rules and policies come from Istio's chart. An
// empty istioNamespace means istio-system.
//
// It refuses a tag equal to the revision, istioctl's special "default" tag,
// tags that are not valid names, and an injector that is not revision's.
func TagWebhook(injector *admissionregistrationv1.MutatingWebhookConfiguration, tag, revision, istioNamespace string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	if err := checkTag(tag, revision); err != nil {
		return nil, err
	}
	if injector == nil {
		return nil, fmt.Errorf("revision tag %q: no injector webhook for revision %s", tag, revision)
	}
	id := "MutatingWebhookConfiguration/" + injector.Name
	if t := injector.Labels[TagLabel]; t != "" {
		return nil, fmt.Errorf("%s is the webhook of revision tag %q, not a revision's injector", id, t)
	}
	if rev := injector.Labels[RevisionLabel]; rev != revision {
		return nil, fmt.Errorf("%s serves revision %q (label %s), not %q", id, rev, RevisionLabel, revision)
	}
	var source *admissionregistrationv1.MutatingWebhook
	for i := range injector.Webhooks {
		if strings.HasSuffix(injector.Webhooks[i].Name, injectorWebhookSuffix) {
			source = &injector.Webhooks[i]
			break
		}
	}
	if source == nil {
		return nil, fmt.Errorf("%s has no webhook named *%s to copy the client config from", id, injectorWebhookSuffix)
	}
	ns := istioNamespaceOrDefault(istioNamespace)

	// Like istioctl: the chart's URL when the injector has one, else the
	// chart's Service reference (istio namespace, port 443) with the
	// injector's Service name and path. Tag webhooks call the revision's
	// istiod, not the tag's Service.
	client := admissionregistrationv1.WebhookClientConfig{CABundle: source.ClientConfig.CABundle}
	switch cc := source.ClientConfig; {
	case cc.URL != nil && *cc.URL != "":
		client.URL = ptr.To(*cc.URL)
	case cc.Service != nil:
		client.Service = &admissionregistrationv1.ServiceReference{
			Name:      cc.Service.Name,
			Namespace: ns,
			Path:      ptr.To(ptr.Deref(cc.Service.Path, "")),
			Port:      ptr.To[int32](istiodWebhookPort),
		}
	default:
		return nil, fmt.Errorf("%s: webhook %s has neither a URL nor a Service to call", id, source.Name)
	}
	reinvocation := admissionregistrationv1.NeverReinvocationPolicy
	if source.ReinvocationPolicy != nil && *source.ReinvocationPolicy != "" {
		reinvocation = *source.ReinvocationPolicy
	}

	labels := chartLabels("sidecar-injector")
	for k, v := range injector.Labels {
		if k != "app" {
			labels[k] = v
		}
	}
	dropOperatorLabels(labels)
	labels[TagLabel] = tag
	labels[RevisionLabel] = revision

	var annotations map[string]string
	if len(injector.Annotations) > 0 {
		annotations = maps.Clone(injector.Annotations)
		delete(annotations, lastAppliedAnnotation)
	}

	entry := func(name string, nsSel, objSel []metav1.LabelSelectorRequirement) admissionregistrationv1.MutatingWebhook {
		return admissionregistrationv1.MutatingWebhook{
			Name:         name,
			ClientConfig: *client.DeepCopy(),
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{""},
					APIVersions: []string{"v1"},
					Resources:   []string{"pods"},
				},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector:       &metav1.LabelSelector{MatchExpressions: nsSel},
			ObjectSelector:          &metav1.LabelSelector{MatchExpressions: objSel},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      ptr.To(reinvocation),
		}
	}
	is := func(key string, values ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpIn, Values: values}
	}
	isNot := func(key string, values ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpNotIn, Values: values}
	}
	absent := func(key string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpDoesNotExist}
	}
	const injectionLabel, injectLabel = "istio-injection", InjectLabel

	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{
			APIVersion: admissionregistrationv1.SchemeGroupVersion.String(),
			Kind:       "MutatingWebhookConfiguration",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:        TagWebhookName(tag, ns),
			Labels:      labels,
			Annotations: annotations,
		},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			// Namespaces labelled istio.io/rev=<tag>; istio-injection wins.
			entry(TagNamespaceWebhook,
				[]metav1.LabelSelectorRequirement{is(RevisionLabel, tag), absent(injectionLabel)},
				[]metav1.LabelSelectorRequirement{isNot(injectLabel, "false")}),
			// Pods labelled istio.io/rev=<tag> in namespaces without either label.
			entry(TagObjectWebhook,
				[]metav1.LabelSelectorRequirement{absent(RevisionLabel), absent(injectionLabel)},
				[]metav1.LabelSelectorRequirement{isNot(injectLabel, "false"), is(RevisionLabel, tag)}),
		},
	}, nil
}

// TagService returns the Service istioctl (1.28+) writes for the tag (name
// TagServiceName(tag)) in the istio namespace: the chart's ports, selecting
// the revision's istiod pods. istiod is the revision's own Service
// (istiod-<rev>, labelled app=istiod and istio.io/rev=<rev>); meshops takes
// from it the chart version labels, which istioctl takes from itself. An
// empty istioNamespace means istio-system.
func TagService(istiod *corev1.Service, tag, revision, istioNamespace string) (*corev1.Service, error) {
	if err := checkTag(tag, revision); err != nil {
		return nil, err
	}
	if istiod == nil {
		return nil, fmt.Errorf("revision tag %q: no istiod Service for revision %s", tag, revision)
	}
	ns := istioNamespaceOrDefault(istioNamespace)
	id := "Service/" + istiod.Namespace + "/" + istiod.Name
	switch {
	case istiod.Labels[TagLabel] != "":
		return nil, fmt.Errorf("%s is the Service of revision tag %q, not a revision's istiod", id, istiod.Labels[TagLabel])
	case istiod.Labels[RevisionLabel] != revision:
		return nil, fmt.Errorf("%s serves revision %q (label %s), not %q", id, istiod.Labels[RevisionLabel], RevisionLabel, revision)
	case istiod.Labels["app"] != "istiod":
		return nil, fmt.Errorf("%s is not labelled app=istiod", id)
	case istiod.Namespace != "" && istiod.Namespace != ns:
		return nil, fmt.Errorf("%s is not in the istio namespace %s", id, ns)
	}

	labels := chartLabels("istiod")
	labels["istio"] = "pilot"
	for _, k := range []string{versionLabel, chartLabel} {
		if v, ok := istiod.Labels[k]; ok {
			labels[k] = v
		}
	}
	labels[TagLabel] = tag
	labels[RevisionLabel] = revision

	port := func(name string, port, target int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(target)}
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: TagServiceName(tag), Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			// The chart's ports; a zero target port means the same as port.
			Ports: []corev1.ServicePort{
				port("grpc-xds", 15010, 0),
				port("https-dns", 15012, 0),
				port("https-webhook", istiodWebhookPort, 15017),
				port("http-monitoring", 15014, 0),
			},
			Selector: map[string]string{"app": "istiod", RevisionLabel: revision},
		},
	}, nil
}
