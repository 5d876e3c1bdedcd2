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

	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/test/gitrepo"
)

func TestOverlayAddsACloudTheFirstValuesFileLacks(t *testing.T) {
	opts := DefaultOptions()
	opts.RepoPath = "testdata/overlay"
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"config/config.yaml", "config/overlay.yaml"}; !slices.Equal(c.Settings.Values, want) {
		t.Errorf("values files = %v, want %v", c.Settings.Values, want)
	}
	if got := c.Istio.VersionNames(); !slices.Equal(got, []string{"asm-1-29"}) || c.Istio.Target.Name != "asm-1-29" || c.Istio.Shape != revisions.ShapeSingle {
		t.Errorf("istio = %v target %s shape %s, want the overlay's asm-1-29, single", got, c.Istio.Target, c.Istio.Shape)
	}
	// The first file's defaults still apply under the overlay's layers.
	if c.Istio.Tag != "prod-stable" {
		t.Errorf("tag = %q, want the first file's prod-stable", c.Istio.Tag)
	}
	want := AKSCluster{SubscriptionID: "00000000-0000-0000-0000-000000000001", ResourceGroup: "hcp-underlay-prod-eastus-svc", Name: "prod-eastus-svc-1"}
	if c.AKS != want {
		t.Errorf("aks = %+v, want %+v", c.AKS, want)
	}
	rv := c.Settings.Extensions.Revisions
	if rv.Provider != revisions.ProviderAKS || rv.CompleteAfter != 30*time.Minute || rv.OnDowngrade != revisions.DowngradeRollback {
		t.Errorf("revisions = %+v", rv)
	}
	d := c.DesiredRevisions()
	if d.Shape != revisions.ShapeSingle || d.Target.Name != "asm-1-29" || len(d.Versions) != 1 || d.OnDowngrade != revisions.DowngradeRollback || d.CompleteAfter != 30*time.Minute {
		t.Errorf("desired revisions = %+v", d)
	}
}

func TestValuesFlagsReplaceTheFilesOfMeshopsYAML(t *testing.T) {
	for _, opts := range []Options{
		{RepoPath: "testdata/overlay", Values: "config/config.yaml"},
		{RepoPath: "testdata/overlay", ValuesFiles: []string{"config/config.yaml"}},
		// ValuesFiles wins over Values.
		{RepoPath: "testdata/overlay", Values: "config/overlay.yaml", ValuesFiles: []string{"config/config.yaml"}},
	} {
		_, err := Load(context.Background(), opts)
		var probs Problems
		if !errors.As(err, &probs) || !strings.Contains(err.Error(), `config/config.yaml:9: clouds: cloud "public" is not in the values file (clouds: dev)`) {
			t.Errorf("%+v: without the overlay: %v", opts, err)
		}
	}
	opts := Options{RepoPath: "testdata/overlay", ValuesFiles: []string{"config/config.yaml", "config/overlay.yaml"}}
	if c, err := Load(context.Background(), opts); err != nil || c.Istio.Target.Name != "asm-1-29" {
		t.Errorf("--values twice: %v", err)
	}
}

// overlayRepo is testdata/overlay with files replaced.
func overlayRepo(t *testing.T, replace map[string]string) string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"meshops.yaml", "config/config.yaml", "config/overlay.yaml", "mesh/app.yaml"} {
		files[name] = readTestdata(t, "overlay/"+name)
	}
	maps.Copy(files, replace)
	return writeFiles(t, files)
}

func TestOverlayProblemsNameTheOverlay(t *testing.T) {
	tests := []struct {
		name    string
		overlay string
		want    []string
	}{
		{
			name:    "a bad revision name set by the overlay",
			overlay: "clouds:\n  public:\n    defaults:\n      svc:\n        istio:\n          versions: \"asm-1.29\"\n    environments:\n      prod: {}\n",
			want:    []string{`config/overlay.yaml:6: svc.istio.versions: revision "asm-1.29" does not match`},
		},
		{
			name:    "a template the overlay uses that meshops cannot render",
			overlay: "clouds:\n  public:\n    defaults:\n      svc:\n        istio:\n          tag: \"{{ .ev2.tag }}\"\n    environments:\n      prod: {}\n",
			want:    []string{`config/overlay.yaml:6: svc.istio.tag: value needs the template {{.ev2.tag}}`},
		},
		{
			name:    "a plain overlay over a layered file",
			overlay: "svc:\n  istio:\n    versions: asm-1-29\n",
			want:    []string{`config/overlay.yaml:1: config/overlay.yaml is a plain values file but config/config.yaml is layered: they cannot be merged`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{RepoPath: overlayRepo(t, map[string]string{"config/overlay.yaml": tt.overlay})}
			_, err := Load(context.Background(), opts)
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("err = %v, want problems", err)
			}
			got := problemStrings(probs)
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, w) }) {
					t.Errorf("problems:\n%s\nwant one starting %s", strings.Join(got, "\n"), w)
				}
			}
		})
	}
}

func TestMissingOverlayIsAProblem(t *testing.T) {
	opts := Options{RepoPath: "testdata/overlay", ValuesFiles: []string{"config/config.yaml", "config/nope.yaml"}}
	_, err := Load(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "config/nope.yaml: values file not found") {
		t.Errorf("err = %v", err)
	}
}

// The config at a git ref reads every values file of the list as committed
// at that ref, overlays included.
func TestLoadGitRefReadsTheOverlaysAtTheRef(t *testing.T) {
	repo := gitrepo.New(t)
	repo.CopyDir("testdata/overlay", ".")
	repo.Commit("asm-1-29 in the overlay")
	overlay := strings.Replace(readTestdata(t, "overlay/config/overlay.yaml"), `versions: "asm-1-29"`, `versions: "asm-1-30"`, 1)
	repo.Write(map[string]string{"config/overlay.yaml": overlay})
	repo.Commit("asm-1-30 in the overlay")

	opts := Options{RepoPath: repo.Dir}
	for ref, want := range map[string]string{"HEAD~1": "asm-1-29", "HEAD": "asm-1-30"} {
		cfg, _, err := LoadGitRef(context.Background(), opts, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if cfg.Istio.Target.Name != want || cfg.AKS.Name != "prod-eastus-svc-1" {
			t.Errorf("%s: target %s, cluster %q; want %s from the overlay as committed", ref, cfg.Istio.Target.Name, cfg.AKS.Name, want)
		}
	}
}

// Plain values files merge like the layers: mappings key by key, lists and
// scalars replaced, and each value keeps the file it came from.
func TestPlainOverlaysMergeLikeLayers(t *testing.T) {
	base, probs := readValuesSource("base.yaml", []byte("svc:\n  istio:\n    versions: [asm-1-28, asm-1-29]\n    targetVersion: asm-1-29\n    tag: prod-stable\n  rg: rg-base\n"), Context{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	over, probs := readValuesSource("over.yaml", []byte("svc:\n  istio:\n    versions: [asm-1-29]\n"), Context{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	v, probs := resolveValues([]*valuesSource{base, over}, Context{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	versions, line, _, _ := v.Lookup("svc", "istio", "versions")
	if !reflect.DeepEqual(versions, []any{"asm-1-29"}) || line != 3 {
		t.Errorf("versions = %v at line %d, want the overlay's list replacing the base's", versions, line)
	}
	if tag, _, _, _ := v.Lookup("svc", "istio", "tag"); tag != "prod-stable" {
		t.Errorf("tag = %v, want the base's kept", tag)
	}
	n, _ := v.lookupNode("svc", "istio", "versions")
	m, _ := v.lookupNode("svc", "rg")
	if v.fileOf(n) != "over.yaml" || v.fileOf(m) != "base.yaml" || !slices.Equal(v.Files(), []string{"base.yaml", "over.yaml"}) {
		t.Errorf("files: versions from %s, rg from %s, all %v", v.fileOf(n), v.fileOf(m), v.Files())
	}
}
