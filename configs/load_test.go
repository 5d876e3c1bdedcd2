package configs

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExampleRepoValidatesClean(t *testing.T) {
	opts := DefaultOptions()
	opts.RepoPath = "examples/aro-hcp-dev"
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("the example repo must validate clean: %v", err)
	}
	if got := c.Istio.VersionNames(); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) {
		t.Errorf("versions = %v", got)
	}
	if c.Istio.Target.Name != "asm-1-29" || c.Istio.Tag != "prod-stable" || c.Istio.RegionRG != "hcp-underlay-dev-westus3" {
		t.Errorf("istio = %+v", c.Istio)
	}
	ext := c.Settings.Extensions
	if !slices.Equal(ext.Namespaces, []string{"aro-hcp", "clusters-service", "maestro"}) ||
		ext.Restart.BatchSize != 2 || ext.Restart.WorkloadTimeout != 5*time.Minute || c.Settings.Stamp != "1" {
		t.Errorf("settings = %+v", c.Settings)
	}
	// The per-revision ConfigMap is rendered for both revisions.
	var cms []string
	for _, m := range c.Manifests {
		if m.GetKind() == "ConfigMap" {
			cms = append(cms, m.GetName()+"@"+m.Source.Revision)
		}
	}
	if !slices.Equal(cms, []string{"istio-shared-configmap-asm-1-28@asm-1-28", "istio-shared-configmap-asm-1-29@asm-1-29"}) {
		t.Errorf("ConfigMaps = %v", cms)
	}
	// Values that need .ev2 are left out of the map, and say why when read.
	if _, ok := c.Values["cloud"]; ok {
		t.Error("cloud (needs .ev2) should not be in Values")
	}
	if _, _, err := c.LookupValue("cloud"); err == nil || !strings.Contains(err.Error(), "{{.ev2.cloudName}}") {
		t.Errorf("LookupValue(cloud) error = %v", err)
	}
	if v, found, err := c.LookupValue("svc", "aks", "name"); err != nil || !found || v != "dev-westus3-svc-1" {
		t.Errorf("LookupValue(svc.aks.name) = %v, %v, %v", v, found, err)
	}

	out, err := Show(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"targetVersion: asm-1-29",
		"versions: asm-1-28,asm-1-29",
		"- asm-1-28\n  - asm-1-29",
		"id: ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-28",
		"source: mesh/istio.yaml:1 (revision asm-1-28)",
		"workloadTimeout: 5m0s",
		"regionRG: hcp-underlay-dev-westus3",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Show output lacks %q:\n%s", want, out)
		}
	}
}

func TestOptionsOverrideSettings(t *testing.T) {
	opts := DefaultOptions()
	opts.RepoPath = "examples/aro-hcp-dev"
	opts.Environment = "prod"
	_, err := Load(context.Background(), opts)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 || !strings.Contains(probs[0].String(), `environment "prod" is not in cloud "dev" (environments: dev)`) {
		t.Errorf("--environment prod: %v", err)
	}

	// Without cloud and environment only the defaults layer applies: one
	// version, so it is the target. regionRG, which meshops reads, needs
	// .ctx.region and says so; the override's bad timeout is reported too.
	opts = DefaultOptions()
	opts.RepoPath = "examples/aro-hcp-dev"
	opts.Override = func(s *Settings) {
		s.Context = Context{}
		s.Extensions.Restart.Timeout = time.Minute
	}
	c, err := Load(context.Background(), opts)
	if !errors.As(err, &probs) || len(probs) != 2 || probs[0].Field != "regionRG" || probs[1].Field != "meshops.restart.workloadTimeout" {
		t.Fatalf("override: %v", err)
	}
	if c.Istio.Target.Name != "asm-1-29" || len(c.Istio.Versions) != 1 {
		t.Errorf("defaults only: %+v", c.Istio)
	}

	// A manifests folder that does not exist is a problem, not a crash.
	opts = DefaultOptions()
	opts.RepoPath = "examples/aro-hcp-dev"
	opts.Manifests = "nope"
	if _, err := Load(context.Background(), opts); !errors.As(err, &probs) || probs[0].String() != "nope: manifests folder not found (fix: create the folder, or point manifests in meshops.yaml (or --manifests) at the folder holding them)" {
		t.Errorf("--manifests nope: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	opts := DefaultOptions()
	opts.RepoPath = "does-not-exist"
	if c, err := Load(context.Background(), opts); err == nil || c != nil || errors.As(err, new(Problems)) {
		t.Errorf("missing repo: %v, %v", c, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opts.RepoPath = "examples/aro-hcp-dev"
	if _, err := Load(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestDefaultsWithoutSettingsFile(t *testing.T) {
	files := maps.Clone(goodRepo)
	delete(files, "meshops.yaml")
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, files)
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSettings()
	if !slices.Equal(c.Settings.Values, want.Values) || c.Settings.Manifests != want.Manifests ||
		c.Settings.Extensions.IstioSystemNamespace != "aks-istio-system" || !reflect.DeepEqual(c.Settings.Extensions, want.Extensions) {
		t.Errorf("settings = %+v, want defaults %+v", c.Settings, want)
	}
}

func TestRevisionPatternAndOrder(t *testing.T) {
	files := maps.Clone(goodRepo)
	files["meshops.yaml"] = "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app]\n  revisionPattern: <major>-<minor>-<patch>\n"
	files["config/config.yaml"] = values("      versions: [1-29-0, 1-9-12, 1-29-10]\n      targetVersion: 1-29-10\n      tag: stable\n")
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, files)
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Istio.VersionNames(); !slices.Equal(got, []string{"1-9-12", "1-29-0", "1-29-10"}) {
		t.Errorf("versions = %v, want numeric order", got)
	}
	if c.Istio.Target.Minor != 29 || c.Istio.Target.Patch != 10 || c.RevisionPattern().String() != "<major>-<minor>-<patch>" {
		t.Errorf("target = %+v", c.Istio.Target)
	}
	var cms int
	for _, m := range c.Manifests {
		if m.GetKind() == "ConfigMap" {
			cms++
		}
	}
	if cms != 3 {
		t.Errorf("%d shared ConfigMaps, want one per revision", cms)
	}
}
