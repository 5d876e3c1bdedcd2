package controlplane

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
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
