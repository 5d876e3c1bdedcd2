package configs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
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
			if len(m.JSON()) == 0 || m.GetKind() == "" || m.GetName() == "" || m.Source.File != "mesh/fuzz.yaml" {
				t.Fatalf("incomplete manifest: %+v", m)
			}
			// What meshops hands to the API server must be JSON, and the
			// manifest's own JSON is Marshal's.
			data, err := json.Marshal(m.Unstructured().Object)
			if err != nil {
				t.Fatalf("%s does not marshal: %v", m.ID(), err)
			}
			if string(data) != string(m.JSON()) {
				t.Fatalf("%s: kept as %s, decodes to %s", m.ID(), m.JSON(), data)
			}
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

// FuzzLoad runs the whole loader on a repo of fuzzed files: meshops.yaml,
// the values file and two manifest files, next to a folder of planted
// secrets that a fuzzed meshops.yaml may point at. Whatever the input,
// Load must return (the fuzzer flags a hang), report problems that name a
// file on one line, never carry the planted secret, and stay within the
// memory its limits promise. `make fuzz-smoke` runs it briefly under
// GOMEMLIMIT.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodRepo["meshops.yaml"]), []byte(goodRepo["config/config.yaml"]), []byte(goodRepo["mesh/istio.yaml"]), []byte(goodRepo["mesh/app.yaml"]))
	example := func(p string) []byte {
		data, _ := os.ReadFile(filepath.Join("examples", "aro-hcp-dev", p))
		return data
	}
	f.Add(example("meshops.yaml"), example("config/config.yaml"), example("mesh/istio.yaml"), example("mesh/frontend.yaml"))
	for _, h := range []struct{ settings, values, a, b string }{
		{"values: ../outside/secret.yaml\n", "", "", ""},
		{"manifests: /etc\n", "{{ range 100 }}x{{ end }}", "a: &a [1, 2]\nb: [*a, *a]\n", "---\n---\n"},
		{"meshops:\n  namespaces: [kube-system]\n", "defaults: {svc: {istio: {versions: '{{ .ctx.cloud }}'}}}", aliasDoc(6), policies("p", 3)},
		{"meshops:\n  postureExemptions: [{object: x}]\n", "{{ $x := \"ab\" }}{{ range 30 }}{{ $x = print $x $x }}{{ end }}", configMap("istio-asm-1-29", ""), "{{ range 1000000 }}{{ end }}"},
	} {
		f.Add([]byte(h.settings), []byte(h.values), []byte(h.a), []byte(h.b))
	}
	f.Fuzz(func(t *testing.T, settings, values, a, b []byte) {
		base := t.TempDir()
		repo, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
		writeInto(t, outside, outsideFiles)
		writeInto(t, repo, map[string]string{
			"meshops.yaml": string(settings), "config/config.yaml": string(values),
			"mesh/a.yaml": string(a), "mesh/b.yaml": string(b),
		})
		opts := DefaultOptions()
		opts.RepoPath = repo
		opts.Limits = fuzzLimits
		c, err := Load(context.Background(), opts)
		var probs Problems
		if err != nil && !errors.As(err, &probs) {
			if strings.Contains(err.Error(), plantedSecret) {
				t.Fatalf("error carries the planted secret: %v", err)
			}
			return
		}
		all := slices.Concat(settings, values, a, b)
		checkProblems(t, all, probs)
		for _, p := range probs {
			if s := p.String(); strings.Contains(s, plantedSecret) || strings.Contains(s, strings.ToLower(plantedSecret)) {
				t.Fatalf("problem carries the planted secret: %s", s)
			}
		}
		if c != nil {
			for _, m := range c.Manifests {
				if _, err := json.Marshal(m.Unstructured().Object); err != nil {
					t.Fatalf("%s does not marshal: %v", m.ID(), err)
				}
			}
		}
		// What a load leaves behind is bounded by its limits; a leak or a
		// bomb that got through shows here long before the fuzzer's
		// GOMEMLIMIT makes the machine crawl.
		if heap := liveHeap(); heap > fuzzHeapBound {
			t.Fatalf("live heap %d MiB after a load of %d bytes of input (bound %d MiB)", heap>>20, len(all), fuzzHeapBound>>20)
		}
	})
}

// fuzzLimits are the defaults scaled down a hundredfold where a step costs
// time (template steps and bytes, values): the fuzzer looks for a way
// around a limit, not for the cost of reaching it, and with coverage
// instrumentation a million template steps take seconds.
var fuzzLimits = Limits{
	TemplateSteps: DefaultTemplateSteps / 100, TemplateBytes: DefaultTemplateBytes / 100,
	Values: DefaultValues / 100, AliasValues: DefaultAliasValues / 100,
}

// fuzzHeapBound is the live heap a fuzzed load may leave: the limits keep
// the worst load under 300 MiB at its peak (docs/security.md).
const fuzzHeapBound = 512 << 20

// liveHeap reads the bytes of live heap objects, cheaply (no stop of the
// world, unlike runtime.ReadMemStats).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
