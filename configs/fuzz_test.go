package configs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshops/meshops/mesh"

	"github.com/meshops/meshops/test/fixtures"
)

// seedFiles adds the example repo's and, when present, the ARO HCP
// fixtures' files matching glob to a fuzz corpus.
func seedFiles(f *testing.F, globs ...string) {
	for _, g := range globs {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
}

// checkProblems holds for every problem meshops reports: it names a file,
// has a sane line and renders on one line.
func checkProblems(t *testing.T, data []byte, probs Problems) {
	t.Helper()
	lines := strings.Count(string(data), "\n") + 2
	for _, p := range probs {
		if p.File == "" || p.Line < 0 || p.Line > lines || p.Message == "" {
			t.Errorf("bad problem position or text: %#v (input has %d lines)", p, lines)
		}
		if s := p.String(); strings.ContainsAny(s, "\r\n") {
			t.Errorf("problem renders on more than one line: %q", s)
		}
	}
}

func FuzzLoadManifests(f *testing.F) {
	for _, doc := range goodRepo {
		f.Add([]byte(doc))
	}
	seedFiles(f, "examples/*/mesh/*.yaml", filepath.Join(fixtures.FindAROHCP(), "mesh", "*.yaml"))
	for _, s := range []string{
		"", "---", "---\n---\n", "- a\n", "a: &a [*a]\n", "%YAML 1.2\n---\na: 1\n", "--- |\n  x\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Revision }}', namespace: aks-istio-system}\n",
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: n}\nspec: {action: CUSTOM, provider: {name: x}, rules: [{from: [{source: {principals: ['*/ns/a/sa/*']}}]}]}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio-shared-configmap-asm-1-29, namespace: aks-istio-system}\ndata: {mesh: 'extensionProviders: [{name: 5}]'}\n",
		"{{ if .Revision }}x{{ end }}", "{{", "a: {{ .Nope }}",
	} {
		f.Add([]byte(s))
	}
	pattern := mesh.DefaultPattern()
	revs := []mesh.Revision{}
	for _, n := range []string{"asm-1-28", "asm-1-29"} {
		r, _ := pattern.Parse(n)
		revs = append(revs, r)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, probs := parseManifests("mesh/fuzz.yaml", data, []string{"asm-1-28", "asm-1-29"})
		checkProblems(t, data, probs)
		for _, m := range ms {
			if m.Unstructured == nil || m.GetKind() == "" || m.GetName() == "" || m.Source.File != "mesh/fuzz.yaml" {
				t.Fatalf("incomplete manifest: %+v", m)
			}
			// What meshops hands to the API server must be JSON.
			if _, err := json.Marshal(m.Object); err != nil {
				t.Fatalf("%s does not marshal: %v", m.ID(), err)
			}
			_ = m.DeepCopy()
		}
		c := &Config{
			Settings:  DefaultSettings(),
			Istio:     Istio{Versions: revs, Target: revs[1], Tag: "prod-stable"},
			Manifests: ms,
			pattern:   pattern,
		}
		checkProblems(t, data, validate(c))
	})
}

func FuzzLoadValues(f *testing.F) {
	f.Add([]byte(goodRepo["config/config.yaml"]))
	seedFiles(f, "examples/*/config/config.yaml", filepath.Join(fixtures.FindAROHCP(), "config", "config.yaml"))
	for _, s := range []string{
		"", "svc: {istio: {versions: [asm-1-28, asm-1-29]}}", "defaults: {svc: {istio: {versions: '{{ .ev2.x }}'}}}",
		"defaults:\n  a: {{ .ev2.n }}\nclouds: {dev: {environments: {dev: {regions: {westus3: {a: 1}}}}}}\n",
		"defaults: [1]", "clouds: 5", "{{ $x := 1 }}defaults: {a: '{{ $x }}'}", "defaults: {svc: {istio: 7}}",
	} {
		f.Add([]byte(s))
	}
	ctx := Context{Cloud: "dev", Environment: "dev", Region: "westus3", RegionShort: "usw3", Stamp: "1"}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, probs := parseValues("config/config.yaml", data, ctx)
		checkProblems(t, data, probs)
		if v == nil {
			return
		}
		if _, err := json.Marshal(v.Map()); err != nil {
			t.Fatalf("values do not marshal: %v", err)
		}
		_, _, probs = readIstio(v, mesh.DefaultPattern())
		checkProblems(t, data, probs)
	})
}
