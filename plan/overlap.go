package plan

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
)

// Overlap is two injector webhook configurations that would both inject
// the same pod: the condition istioctl's analyzer reports as IST0139. The
// pod would get two sidecars or fail admission, so it blocks the plan.
type Overlap struct {
	First, Second string
	// Namespace and PodLabels describe a pod both would inject.
	Namespace string
	PodLabels map[string]string
}

func (o Overlap) String() string {
	return fmt.Sprintf("webhooks %s and %s would both inject pods in namespace %s with labels %v", o.First, o.Second, o.Namespace, o.PodLabels)
}

// Overlaps finds injector webhooks that would both inject a pod, trying
// every namespace of the snapshot with the pod labels that steer Istio's
// injection: none, istio.io/rev set to each revision or tag known, and
// sidecar.istio.io/inject=true. Each pair is reported once.
func Overlaps(s *observe.Snapshot) []Overlap {
	podLabelSets := []map[string]string{{}, {"sidecar.istio.io/inject": "true"}}
	values := slices.AppendSeq(slices.Collect(maps.Keys(s.ControlPlanes)), maps.Keys(s.Tags))
	slices.Sort(values)
	for _, v := range slices.Compact(values) {
		podLabelSets = append(podLabelSets, map[string]string{mesh.RevisionLabel: v})
	}
	nsNames := slices.Sorted(maps.Keys(s.Namespaces))

	seen := map[[2]string]bool{}
	var out []Overlap
	for _, nsName := range nsNames {
		nsLabels := labels.Set(s.Namespaces[nsName].Labels)
		for _, podLabels := range podLabelSets {
			var injecting []string
			for _, wh := range s.Injectors {
				if injects(wh, nsLabels, labels.Set(podLabels)) {
					injecting = append(injecting, wh.Name)
				}
			}
			sort.Strings(injecting)
			for i := 0; i < len(injecting); i++ {
				for j := i + 1; j < len(injecting); j++ {
					pair := [2]string{injecting[i], injecting[j]}
					if seen[pair] {
						continue
					}
					seen[pair] = true
					out = append(out, Overlap{First: pair[0], Second: pair[1], Namespace: nsName, PodLabels: podLabels})
				}
			}
		}
	}
	return out
}

// injects reports whether any sidecar-injector entry of wh selects a pod
// with podLabels in a namespace with nsLabels.
func injects(wh *admissionregistrationv1.MutatingWebhookConfiguration, nsLabels, podLabels labels.Set) bool {
	for _, h := range wh.Webhooks {
		if matches(h.NamespaceSelector, nsLabels) && matches(h.ObjectSelector, podLabels) {
			return true
		}
	}
	return false
}

// matches applies a webhook selector as the API server does: nil selects
// everything.
func matches(sel *metav1.LabelSelector, set labels.Set) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		// The API server refuses invalid selectors on write; a webhook
		// that still has one is unusable and injects nothing.
		return false
	}
	return s.Matches(set)
}
