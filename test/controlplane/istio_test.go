package controlplane

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/mesh"
)

// injectorConfig is the part of an injector ConfigMap's config that says
// which templates istiod merges into every pod it injects.
type injectorConfig struct {
	DefaultTemplates []string          `json:"defaultTemplates"`
	Templates        map[string]string `json:"templates"`
}

func renderedInjectorConfig(t *testing.T, rev string, opts Options) injectorConfig {
	t.Helper()
	objs, err := renderRevision(context.Background(), rev, opts)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "ConfigMap" && o.GetName() == "istio-sidecar-injector-"+rev
	})
	if i < 0 {
		t.Fatalf("istioctl rendered no ConfigMap istio-sidecar-injector-%s", rev)
	}
	data, _, _ := unstructured.NestedString(objs[i].Object, "data", "config")
	var cfg injectorConfig
	if err := yaml.Unmarshal([]byte(data), &cfg); err != nil {
		t.Fatalf("ConfigMap istio-sidecar-injector-%s config: %v", rev, err)
	}
	return cfg
}

// A never-ready revision is Istio's own chart with one more default
// template: every pod it injects carries NeverReadyLabel, which kwok's
// pod-ready stage skips. Other revisions render as the chart defaults.
func TestANeverReadyRevisionInjectsTheNeverReadyLabelIntoEveryPod(t *testing.T) {
	opts := Options{NeverReadyRevisions: []string{"asm-1-30"}}

	broken := renderedInjectorConfig(t, "asm-1-30", opts)
	if !slices.Equal(broken.DefaultTemplates, []string{"sidecar", "never-ready"}) {
		t.Errorf("asm-1-30 default templates %v, want [sidecar never-ready]", broken.DefaultTemplates)
	}
	var tmpl struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(broken.Templates["never-ready"]), &tmpl); err != nil {
		t.Fatalf("asm-1-30 never-ready template: %v", err)
	}
	if got := tmpl.Metadata.Labels[NeverReadyLabel]; got != "true" {
		t.Errorf("asm-1-30 never-ready template labels %v, want %s=true", tmpl.Metadata.Labels, NeverReadyLabel)
	}

	healthy := renderedInjectorConfig(t, "asm-1-29", opts)
	if !slices.Equal(healthy.DefaultTemplates, []string{"sidecar"}) {
		t.Errorf("asm-1-29 default templates %v, want [sidecar]", healthy.DefaultTemplates)
	}
	if _, ok := healthy.Templates["never-ready"]; ok {
		t.Error("asm-1-29 is not listed as never ready but has the never-ready template")
	}
}

// The real istiod of a never-ready revision merges the extra template into
// the pods it injects: a pod opting into it (a server-side dry run, which
// calls the injector and stores nothing) comes back injected by it and
// carrying NeverReadyLabel, which kwok's pod-ready stage never readies.
func TestANeverReadyRevisionsIstiodLabelsThePodsItInjects(t *testing.T) {
	ctx := context.Background()
	_, cs := start(t, Options{Full: true, Revisions: []string{"asm-1-29"}, NeverReadyRevisions: []string{"asm-1-29"}})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{mesh.RevisionLabel: "asm-1-29"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "app"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
	}
	got, err := cs.CoreV1().Pods("app").Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if rev := mesh.SidecarOf(got).Revision; rev != "asm-1-29" {
		t.Fatalf("probe pod injected by %q, want asm-1-29 (annotations %v)", rev, got.Annotations)
	}
	if got.Labels[NeverReadyLabel] != "true" {
		t.Errorf("pod injected by the never-ready asm-1-29 has labels %v, want %s=true", got.Labels, NeverReadyLabel)
	}
}
