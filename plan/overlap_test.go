package plan

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/test/simmesh"
)

// injectors renders the simulated add-on's injector webhooks, shaped as
// Istio's chart renders them, keyed by revision.
func injectors(t *testing.T) map[string]*admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	objs, err := simmesh.Render(simmesh.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*admissionregistrationv1.MutatingWebhookConfiguration{}
	for _, o := range objs {
		if o.GetKind() != "MutatingWebhookConfiguration" {
			continue
		}
		wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, wh); err != nil {
			t.Fatal(err)
		}
		out[wh.Labels[mesh.RevisionLabel]] = wh
	}
	return out
}

// tagWebhook is a tag webhook as istioctl shapes it: the revision's
// injector entries with the istio.io/rev selector values set to selects.
func tagWebhook(from *admissionregistrationv1.MutatingWebhookConfiguration, name, selects string) *admissionregistrationv1.MutatingWebhookConfiguration {
	wh := from.DeepCopy()
	wh.Name = name
	for i := range wh.Webhooks {
		for _, sel := range []*metav1.LabelSelector{wh.Webhooks[i].NamespaceSelector, wh.Webhooks[i].ObjectSelector} {
			for j, r := range sel.MatchExpressions {
				if r.Key == mesh.RevisionLabel && r.Operator == metav1.LabelSelectorOpIn {
					sel.MatchExpressions[j].Values = []string{selects}
				}
			}
		}
	}
	return wh
}

func TestOverlaps(t *testing.T) {
	inj := injectors(t)
	namespaces := map[string]observe.Namespace{
		"app":    {Name: "app", Labels: map[string]string{mesh.RevisionLabel: "prod-stable"}},
		"legacy": {Name: "legacy", Labels: map[string]string{mesh.RevisionLabel: "asm-1-28"}},
		"plain":  {Name: "plain"},
	}
	snap := func(hooks ...*admissionregistrationv1.MutatingWebhookConfiguration) *observe.Snapshot {
		return &observe.Snapshot{
			ControlPlanes: map[string]mesh.ControlPlane{"asm-1-28": {}, "asm-1-29": {}},
			Tags:          map[string]observe.Tag{"prod-stable": {}},
			Namespaces:    namespaces,
			Injectors:     hooks,
		}
	}
	stable := tagWebhook(inj["asm-1-28"], "istio-revision-tag-prod-stable-aks-istio-system", "prod-stable")
	tests := []struct {
		name string
		snap *observe.Snapshot
		want []string
	}{
		{"two revisions and a tag never overlap", snap(inj["asm-1-28"], inj["asm-1-29"], stable), nil},
		{"a second tag selecting the same label overlaps with the first",
			snap(inj["asm-1-28"], stable, tagWebhook(inj["asm-1-29"], "istio-revision-tag-prod-canary-aks-istio-system", "prod-stable")),
			[]string{"istio-revision-tag-prod-canary-aks-istio-system+istio-revision-tag-prod-stable-aks-istio-system in app"}},
		{"a leftover copy of a revision's injector overlaps with it",
			snap(inj["asm-1-28"], tagWebhook(inj["asm-1-28"], "istio-sidecar-injector-asm-1-28", "asm-1-28")),
			[]string{"istio-sidecar-injector-asm-1-28+istio-sidecar-injector-asm-1-28-aks-istio-system in legacy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, o := range Overlaps(tt.snap) {
				got = append(got, o.First+"+"+o.Second+" in "+o.Namespace)
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("Overlaps() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassifyBlocksOnOverlappingInjectorsNamingBoth(t *testing.T) {
	inj := injectors(t)
	s := snapshot("asm-1-28")
	s.Namespaces["app"] = observe.Namespace{Name: "app", Rev: "prod-stable", Labels: map[string]string{mesh.RevisionLabel: "prod-stable"}}
	s.Injectors = []*admissionregistrationv1.MutatingWebhookConfiguration{
		inj["asm-1-28"], inj["asm-1-29"],
		tagWebhook(inj["asm-1-28"], "istio-revision-tag-prod-stable-aks-istio-system", "prod-stable"),
		tagWebhook(inj["asm-1-29"], "istio-revision-tag-prod-canary-aks-istio-system", "prod-stable"),
	}
	c := Classify(s, Desired{Versions: []string{"asm-1-28", "asm-1-29"}, Target: "asm-1-29", Tag: "prod-stable"}, Changes{})
	if !c.Blocked || c.Scenario != ScenarioWebhookOverlap ||
		!strings.Contains(c.Reason, "istio-revision-tag-prod-canary-aks-istio-system") ||
		!strings.Contains(c.Reason, "istio-revision-tag-prod-stable-aks-istio-system") {
		t.Errorf("Classify() = %+v; want blocked naming both webhooks", c)
	}
}
