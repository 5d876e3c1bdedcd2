package configs

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []chunk
	}{
		{"single document", "a: 1\n", []chunk{{1, "a: 1\n"}}},
		{"helm style", "---\n# Source: x\na: 1\n---\n# Source: y\nb: 2\n", []chunk{{1, "---\n# Source: x\na: 1\n"}, {4, "---\n# Source: y\nb: 2\n"}}},
		{"leading comments only", "# header\n\n---\na: 1\n", []chunk{{3, "---\na: 1\n"}}},
		{"empty documents kept for parsing", "---\n---\na: 1\n", []chunk{{1, "---\n"}, {2, "---\na: 1\n"}}},
		{"content on the separator line", "--- {a: 1}\n--- |\n  text\n", []chunk{{1, "--- {a: 1}\n"}, {2, "--- |\n  text\n"}}},
		{"directive stays with its document", "%YAML 1.2\n---\na: 1\n", []chunk{{1, "%YAML 1.2\n---\na: 1\n"}}},
		{"not a separator", "a: |\n  ---x\nb: ----\n", []chunk{{1, "a: |\n  ---x\nb: ----\n"}}},
		{"CRLF", "---\r\na: 1\r\n---\r\nb: 2\r\n", []chunk{{1, "---\r\na: 1\r\n"}, {3, "---\r\nb: 2\r\n"}}},
		{"byte order mark", "\ufeffa: 1\n", []chunk{{1, "a: 1\n"}}},
		{"nothing", "", nil},
		{"comments only", "# nothing here\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitDocuments(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitDocuments(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseManifestsSources(t *testing.T) {
	src := `---
# Source: chart/templates/empty.yaml
---
# Source: chart/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio-shared-configmap-{{ .Revision }}
  namespace: aks-istio-system
  labels:
    istio.io/rev: {{ .Revision }}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: aks-istio-system
spec:
  mtls:
    mode: STRICT
  portLevelMtls:
    8080: {mode: PERMISSIVE}
`
	ms, probs := parseManifests("mesh/istio.yaml", []byte(src), []string{"asm-1-28", "asm-1-29"})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.ID()+" "+m.Source.String()+" doc "+itoa(m.Source.Document))
	}
	want := []string{
		"ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-28 mesh/istio.yaml:3 (revision asm-1-28) doc 1",
		"ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-29 mesh/istio.yaml:3 (revision asm-1-29) doc 1",
		"PeerAuthentication/aks-istio-system/default mesh/istio.yaml:12 doc 2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An unquoted {{ .Revision }} works because templates render before parsing.
	if l := ms[1].GetLabels()["istio.io/rev"]; l != "asm-1-29" {
		t.Errorf("label = %q", l)
	}
	// Lines of fields count from the top of the file.
	if l := ms[2].line("metadata", "namespace"); l != 17 {
		t.Errorf("metadata.namespace line = %d, want 17", l)
	}
	// Numbers are int64, map keys strings: what unstructured and JSON expect.
	if u := ms[2].Unstructured(); u.DeepCopy() == nil {
		t.Error("DeepCopy failed")
	}
	if _, err := ms[2].Unstructured().MarshalJSON(); err != nil {
		t.Errorf("MarshalJSON: %v", err)
	}
}

func TestParseManifestsYAMLFeatures(t *testing.T) {
	src := `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  namespace: aks-istio-system
  labels: &labels
    team: mesh
  annotations:
    <<: *labels
    note: "merge keys work"
data:
  n: "1"
`
	ms, probs := parseManifests("mesh/x.yaml", []byte(src), nil)
	if len(probs) > 0 || len(ms) != 1 {
		t.Fatalf("%v %v", ms, probs)
	}
	if a := ms[0].GetAnnotations(); a["team"] != "mesh" || a["note"] != "merge keys work" {
		t.Errorf("annotations = %v", a)
	}
	for _, bad := range []struct{ src, want string }{
		{"a: &a [*a]\n", "refers to a value that contains it"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: aks-istio-system}\ndata: {n: .nan}\n", "not a finite number"},
		{"? [a]\n: b\n", "mapping keys must be plain values"},
	} {
		_, probs := parseManifests("mesh/x.yaml", []byte(bad.src), nil)
		if len(probs) != 1 || !strings.Contains(probs[0].Message, bad.want) {
			t.Errorf("%q: problems %v, want %q", bad.src, probs, bad.want)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	_, probs := parseManifests("mesh/bomb.yaml", []byte(b.String()), nil)
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "expands to more than") {
		t.Errorf("problems = %v", probs)
	}
}
