package configs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshops/meshops/revisions"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVersionsShapes(t *testing.T) {
	tests := []struct {
		name    string
		istio   string
		shape   revisions.Shape
		summary string
	}{
		{"one revision as a string is the single shape", "      versions: \"asm-1-29\"\n", revisions.ShapeSingle,
			"single revision asm-1-29: install this revision and remove the previous one once verified"},
		{"one revision with an equal targetVersion is the single shape", "      versions: \"asm-1-29\"\n      targetVersion: asm-1-29\n", revisions.ShapeSingle, "single revision asm-1-29"},
		{"one revision as a YAML list is the single shape", "      versions: [asm-1-29]\n", revisions.ShapeSingle, "single revision asm-1-29"},
		{"a comma string of two is the list shape", "      versions: \"asm-1-28,asm-1-29\"\n      targetVersion: asm-1-29\n", revisions.ShapeList,
			"list asm-1-28, asm-1-29 with target asm-1-29: keep every listed revision installed"},
		{"a YAML list of two is the list shape", "      versions: [asm-1-29, asm-1-28]\n      targetVersion: asm-1-28\n", revisions.ShapeList, "list asm-1-28, asm-1-29 with target asm-1-28"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"meshops.yaml":       "cloud: dev\nenvironment: dev\n",
				"config/config.yaml": "defaults:\n  svc:\n    istio:\n" + tt.istio + "      tag: prod-stable\nclouds:\n  dev:\n    environments:\n      dev: {}\n",
				"mesh/app.yaml":      readTestdata(t, "overlay/mesh/app.yaml"),
			}
			c, err := Load(context.Background(), Options{RepoPath: writeFiles(t, files)})
			if err != nil {
				t.Fatal(err)
			}
			if c.Istio.Shape != tt.shape || !strings.HasPrefix(c.Istio.ShapeSummary(), tt.summary) {
				t.Errorf("shape %s, %q; want %s, %q", c.Istio.Shape, c.Istio.ShapeSummary(), tt.shape, tt.summary)
			}
			out, err := Show(c)
			if err != nil || !strings.Contains(string(out), "shape: "+string(tt.shape)+"\n") {
				t.Errorf("show does not say the shape:\n%s", out)
			}
		})
	}
}

func TestRevisionsSettingsProblems(t *testing.T) {
	// Each case's lines follow "  revisions:" on line 7 of meshops.yaml.
	head := "values: [config/config.yaml, config/overlay.yaml]\ncloud: public\nenvironment: prod\nregion: eastus\nmeshops:\n  namespaces: [app]\n  revisions:\n"
	tests := []struct {
		name      string
		revisions string
		want      string
	}{
		{"an unknown provider", "    provider: gke\n", `meshops.yaml:8: meshops.revisions.provider: unknown provider "gke" (fix: use external`},
		{"an unknown downgrade policy", "    provider: aks\n    onDowngrade: allow\n", `meshops.yaml:9: meshops.revisions.onDowngrade: unknown downgrade policy "allow" (fix: use refuse`},
		{"a negative soak", "    completeAfter: -5m\n", `meshops.yaml:8: meshops.revisions.completeAfter: expected a duration of 0 or more, got -5m0s`},
		{"a soak that is no duration", "    completeAfter: soon\n", `meshops.yaml:8: meshops.revisions.completeAfter: expected a duration, got "soon"`},
		{"an unknown field", "    complete: 1h\n", `meshops.yaml:8: meshops.revisions.complete: unknown field "complete"`},
		{"a cluster given twice", "    aks:\n      cluster: c1\n      clusterFromValue: svc.aks.name\n",
			`meshops.yaml:10: meshops.revisions.aks.clusterFromValue: cluster is given twice: as "c1" and from the value svc.aks.name (fix: keep either cluster or clusterFromValue)`},
		{"a path to no value", "    aks:\n      clusterFromValue: svc.aks.nom\n",
			`meshops.yaml:9: meshops.revisions.aks.clusterFromValue: no value at svc.aks.nom in config/config.yaml, config/overlay.yaml for public/prod/eastus (fix: name a value`},
		{"a path to a mapping", "    aks:\n      clusterFromValue: svc.aks\n",
			`config/config.yaml:5: svc.aks: svc.aks (named by meshops.revisions.aks.clusterFromValue) is a mapping, not a non-empty string`},
		{"a path that is no path", "    aks:\n      clusterFromValue: svc..name\n", `meshops.yaml:9: meshops.revisions.aks.clusterFromValue: "svc..name" is not a path of keys`},
		{"a path to a value an overlay cannot render", "    aks:\n      resourceGroupFromValue: svc.rg\n",
			`config/overlay.yaml:11: svc.rg: meshops.revisions.aks.resourceGroupFromValue names svc.rg, which cannot be read: value needs the template {{.ev2.rg}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replace := map[string]string{"meshops.yaml": head + tt.revisions}
			if strings.Contains(tt.name, "cannot render") {
				replace["config/overlay.yaml"] = strings.Replace(readTestdata(t, "overlay/config/overlay.yaml"), `"hcp-underlay-prod-{{ .ctx.region }}-svc"`, `"{{ .ev2.rg }}"`, 1)
			}
			_, err := Load(context.Background(), Options{RepoPath: overlayRepo(t, replace)})
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("err = %v, want problems", err)
			}
			got := problemStrings(probs)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("problems:\n%s\nwant one starting\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestAKSProviderKeepsAtMostTwoVersions(t *testing.T) {
	repo := overlayRepo(t, map[string]string{"config/overlay.yaml": "clouds:\n  public:\n    defaults:\n      svc:\n        istio:\n          versions: \"asm-1-28,asm-1-29,asm-1-30\"\n          targetVersion: asm-1-30\n    environments:\n      prod: {}\n"})
	_, err := Load(context.Background(), Options{RepoPath: repo})
	if err == nil || !strings.Contains(err.Error(), "config/overlay.yaml:6: svc.istio.versions: versions lists 3 revisions but meshops.revisions.provider is aks") {
		t.Errorf("err = %v", err)
	}
}

func TestAKSClusterFromAROHCPValues(t *testing.T) {
	repo := aroHCPRepo(t)
	settings := "cloud: dev\nenvironment: dev\nregion: westus3\nregionShort: usw3\nstamp: 1\nmeshops:\n  revisions:\n    provider: aks\n    aks:\n      subscriptionIdFromValue: svc.subscription.key\n      resourceGroupFromValue: svc.rg\n      clusterFromValue: svc.aks.name\n"
	if err := os.WriteFile(filepath.Join(repo, "meshops.yaml"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(context.Background(), Options{RepoPath: repo})
	if err != nil && !errors.As(err, new(Problems)) {
		t.Fatal(err)
	}
	if c.AKS.Name != "dev-westus3-svc-1" || c.AKS.ResourceGroup != "hcp-underlay-dev-westus3-svc" {
		t.Errorf("aks = %+v, want dev-westus3-svc-1 in hcp-underlay-dev-westus3-svc", c.AKS)
	}
	if c.Istio.Shape != revisions.ShapeSingle {
		t.Errorf("ARO HCP's versions: %q read as %s, want single", c.Istio.VersionNames(), c.Istio.Shape)
	}
	t.Logf("problems: %v", err)
}
