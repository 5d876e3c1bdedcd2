package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meshops/meshops/mesh"
)

// aroHCPContexts are the six environments whose resolution ARO HCP's own
// tool left in config/rendered/<cloud>/<env>/<region>.yaml. regionShort and
// stamp are what those renders were made with (visible in names such as
// admin-api-cert-dev-usw3 and ah-ci00-cx-j7654321-1).
var aroHCPContexts = []Context{
	{Cloud: "dev", Environment: "ci00", Region: "centralus", RegionShort: "j7654321", Stamp: "1"},
	{Cloud: "dev", Environment: "ci01", Region: "centralus", RegionShort: "j7654321", Stamp: "1"},
	{Cloud: "dev", Environment: "cspr", Region: "westus3", RegionShort: "usw3", Stamp: "1"},
	{Cloud: "dev", Environment: "dev", Region: "westus3", RegionShort: "usw3", Stamp: "1"},
	{Cloud: "dev", Environment: "perf", Region: "westus3", RegionShort: "usw3ptest", Stamp: "1"},
	{Cloud: "dev", Environment: "pers", Region: "westus3", RegionShort: "usw3test", Stamp: "1"},
}

func TestResolveAROHCPValues(t *testing.T) {
	fixtures := fixtureDir(t)
	source, err := os.ReadFile(filepath.Join(fixtures, "config", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every environment in rendered/ is covered by the table.
	dirs, err := filepath.Glob(filepath.Join(fixtures, "config", "rendered", "*", "*", "*.yaml"))
	if err != nil || len(dirs) != len(aroHCPContexts) {
		t.Fatalf("rendered files = %v (%v), want %d", dirs, err, len(aroHCPContexts))
	}
	for _, ctx := range aroHCPContexts {
		t.Run(ctx.Environment, func(t *testing.T) {
			renderedPath := filepath.Join(fixtures, "config", "rendered", ctx.Cloud, ctx.Environment, ctx.Region+".yaml")
			want, err := os.ReadFile(renderedPath)
			if err != nil {
				t.Fatal(err)
			}
			wantVals, probs := parseValues("rendered.yaml", want, Context{})
			if len(probs) > 0 || wantVals.Layered() {
				t.Fatalf("rendered file: layered=%v problems %v", wantVals.Layered(), probs)
			}
			got, probs := parseValues("config/config.yaml", source, ctx)
			if len(probs) > 0 {
				t.Fatalf("resolve: %v", probs)
			}
			if !got.Layered() {
				t.Fatal("config.yaml not recognised as layered")
			}

			var compared, ev2 []string
			compareTrees(t, got, "", got.root, wantVals.root, &compared, &ev2)
			if len(compared) < 500 {
				t.Errorf("compared only %d values", len(compared))
			}
			// The keys that depend on .ev2 are exactly the ones ARO HCP's
			// central config supplies.
			for _, k := range []string{"cloud", "azureGeoShortId", "azureRegionAvailabilityZoneCount", "keyVaultDNSSuffix", "acrDNSSuffix"} {
				if !slices.Contains(ev2, k) {
					t.Errorf("%s should depend on .ev2; .ev2 keys: %v", k, ev2)
				}
			}
			t.Logf("%s: %d values equal, %d depend on .ev2", ctx.Environment, len(compared), len(ev2))

			istio, _, probs := readIstio(got, mesh.DefaultPattern())
			if len(probs) > 0 {
				t.Fatalf("svc.istio: %v", probs)
			}
			wantRG, _, _, _ := wantVals.Lookup("regionRG")
			if names := istio.VersionNames(); !slices.Equal(names, []string{"asm-1-29"}) ||
				istio.Target.Name != "asm-1-29" || istio.Tag != "prod-stable" ||
				istio.IngressGatewayIPAddressName != "aro-hcp-istio-ingress" || istio.RegionRG != wantRG {
				t.Errorf("svc.istio = %+v, want versions [asm-1-29], target asm-1-29, tag prod-stable, ingress aro-hcp-istio-ingress, regionRG %v", istio, wantRG)
			}
		})
	}
}

// compareTrees checks that every value of got equals the rendered value at
// the same path, except values whose template needs .ev2, and that neither
// side has keys the other lacks.
func compareTrees(t *testing.T, got *Values, path string, g, w *node, compared, ev2 *[]string) {
	t.Helper()
	if id, _ := firstUnresolved(g); id != "" && (g.kind != mapNode || len(g.unresolved) > 0) {
		tmpl := got.templates[id]
		if !strings.Contains(tmpl.expr, ".ev2") {
			t.Errorf("%s: unresolved template %s that does not use .ev2: %s", path, tmpl.expr, tmpl.err)
		}
		*ev2 = append(*ev2, path)
		return
	}
	if g.kind == mapNode && w.kind == mapNode {
		for _, e := range g.entries {
			wv := w.get(e.key)
			if wv == nil {
				t.Errorf("%s: resolved but absent from the rendered file", joinPath(path, e.key))
				continue
			}
			compareTrees(t, got, joinPath(path, e.key), e.val, wv, compared, ev2)
		}
		for _, e := range w.entries {
			if g.get(e.key) == nil {
				t.Errorf("%s: in the rendered file but not resolved", joinPath(path, e.key))
			}
		}
		return
	}
	gv, _ := g.value()
	wv, _ := w.value()
	if !reflect.DeepEqual(gv, wv) {
		t.Errorf("%s = %#v (line %d), rendered %#v", path, gv, g.line, wv)
		return
	}
	*compared = append(*compared, path)
}

func TestValuesLayering(t *testing.T) {
	src := `
defaults:
  a: base
  keep: yes-kept
  m: {x: 1, y: 2, list: [1, 2]}
  ev2only: "{{ .ev2.thing }}"
  overridden: "{{ .ev2.other }}"
  reg: "{{ .ctx.region }}"
clouds:
  c1:
    defaults:
      a: cloud
      m: {y: 3, list: [9]}
    environments:
      e1:
        defaults:
          a: env
          overridden: plain
          m: {z: 4}
        regions:
          r1:
            a: region
`
	tests := []struct {
		name string
		ctx  Context
		want map[string]any
	}{
		{"defaults only", Context{}, map[string]any{"a": "base", "keep": "yes-kept", "m": map[string]any{"x": int64(1), "y": int64(2), "list": []any{int64(1), int64(2)}}}},
		{"cloud", Context{Cloud: "c1"}, map[string]any{"a": "cloud", "keep": "yes-kept", "m": map[string]any{"x": int64(1), "y": int64(3), "list": []any{int64(9)}}}},
		{"environment", Context{Cloud: "c1", Environment: "e1"}, map[string]any{"a": "env", "overridden": "plain", "keep": "yes-kept", "m": map[string]any{"x": int64(1), "y": int64(3), "z": int64(4), "list": []any{int64(9)}}}},
		{"region with a layer", Context{Cloud: "c1", Environment: "e1", Region: "r1"}, map[string]any{"a": "region", "overridden": "plain", "reg": "r1", "keep": "yes-kept", "m": map[string]any{"x": int64(1), "y": int64(3), "z": int64(4), "list": []any{int64(9)}}}},
		{"region without a layer", Context{Cloud: "c1", Environment: "e1", Region: "r2"}, map[string]any{"a": "env", "overridden": "plain", "reg": "r2", "keep": "yes-kept", "m": map[string]any{"x": int64(1), "y": int64(3), "z": int64(4), "list": []any{int64(9)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, probs := parseValues("config.yaml", []byte(src), tt.ctx)
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if got := v.Map(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Map() = %#v\nwant %#v", got, tt.want)
			}
			_, _, _, err := v.Lookup("ev2only")
			if err == nil || !strings.Contains(err.Error(), "config.yaml:6: ev2only: value needs the template {{.ev2.thing}}") {
				t.Errorf("Lookup(ev2only) error = %v", err)
			}
		})
	}
}

func TestValuesUnknownLayer(t *testing.T) {
	src := "defaults: {a: 1}\nclouds:\n  c1:\n    environments:\n      e1: {}\n"
	tests := []struct {
		ctx  Context
		want string
	}{
		{Context{Cloud: "nope"}, `config.yaml:2: clouds: cloud "nope" is not in the values file (clouds: c1)`},
		{Context{Cloud: "c1", Environment: "e9"}, `config.yaml:4: clouds.c1.environments: environment "e9" is not in cloud "c1" (environments: e1)`},
		{Context{Environment: "e1"}, `config.yaml: clouds: an environment or region was given without a cloud`},
	}
	for _, tt := range tests {
		_, probs := parseValues("config.yaml", []byte(src), tt.ctx)
		if len(probs) != 1 || !strings.HasPrefix(probs[0].String(), tt.want) {
			t.Errorf("ctx %v: problems %v, want %q", tt.ctx, problemStrings(probs), tt.want)
		}
	}
}

func TestPlainValuesAreUsedAsIs(t *testing.T) {
	v, probs := parseValues("plain.yaml", []byte("svc:\n  istio:\n    versions: [asm-1-28, asm-1-29]\n    targetVersion: asm-1-28\n    tag: \"{{ not a template }}\"\n"), Context{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	istio, _, probs := readIstio(v, mesh.DefaultPattern())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if istio.Tag != "{{ not a template }}" || istio.Target.Name != "asm-1-28" || len(istio.Versions) != 2 {
		t.Errorf("istio = %+v", istio)
	}
}
