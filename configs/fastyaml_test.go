package configs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/meshops/meshops/test/fixtures"
)

// slowParse is what decodeDocuments builds without quickParse: yaml.v3's
// nodes through the converter; ok is false when text is not exactly one
// document that converts.
func slowParse(text string, lineOffset int) (*node, int, bool) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, 0, false
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, 0, false
	}
	b := newBudget(DefaultLimits())
	t, err := newConverter(b, lineOffset, nil).convert(&doc)
	if err != nil {
		return nil, 0, false
	}
	return t, int(b.values.Load()), true
}

// quickParse parses text with a parser of its own.
func quickParse(text string, lineOffset, maxValues int) (*node, int, bool) {
	return new(quickParser).parse(text, lineOffset, maxValues)
}

// reused is one parser for every document checkQuickParse reads, so the
// fuzz target reads each into the nodes of the ones before.
var reused = new(quickParser)

// checkQuickParse fails when quickParse reads text other than yaml.v3 and
// the converter do: another tree, other lines, another count of values.
func checkQuickParse(t *testing.T, text string) bool {
	t.Helper()
	got, gotValues, ok := reused.parse(text, 10, DefaultValues)
	if !ok {
		return false
	}
	want, wantValues, wantOK := slowParse(text, 10)
	if !wantOK {
		t.Fatalf("quickParse read what yaml.v3 refuses:\n%s", text)
	}
	// Compared as dumps: a reused node's empty slices are not nil.
	if dumpNode(got) != dumpNode(want) || gotValues != wantValues {
		t.Fatalf("quickParse and yaml.v3 disagree on\n%s\nquick (%d values): %s\nyaml.v3 (%d values): %s", text, gotValues, dumpNode(got), wantValues, dumpNode(want))
	}
	return true
}

func dumpNode(n *node) string {
	var b strings.Builder
	var walk func(n *node, indent string)
	walk = func(n *node, indent string) {
		if len(n.unresolved) > 0 {
			b.WriteString(indent + "unresolved " + strings.Join(n.unresolved, ",") + "\n")
		}
		switch n.kind {
		case mapNode:
			b.WriteString(indent + "map@" + strconv.Itoa(n.line) + " indexed " + strconv.FormatBool(n.index != nil) + "\n")
			for _, e := range n.entries {
				b.WriteString(indent + "  " + e.key + "@" + strconv.Itoa(e.line) + ":\n")
				walk(e.val, indent+"    ")
			}
		case listNode:
			b.WriteString(indent + "list@" + strconv.Itoa(n.line) + "\n")
			for _, it := range n.items {
				walk(it, indent+"  ")
			}
		default:
			b.WriteString(fmt.Sprintf("%sscalar@%d %T %#v text %q\n", indent, n.line, n.scalar, n.scalar, n.text))
		}
	}
	if n != nil {
		walk(n, "")
	}
	return b.String()
}

// quickCases are documents quickParse reads, or must leave to yaml.v3.
var quickCases = []struct {
	text string
	read bool
}{
	{"---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: fleet-0001}\nspec: {}\n", true},
	{`---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: app-1-allow-2, namespace: ns}
spec:
  selector: {matchLabels: {app: app-1}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/ns/sa/client-2"]}
    to:
    - operation: {methods: [GET, POST], paths: ["/api/v2/*"]}
`, true},
	{"# leading comment\napiVersion: v1 # trailing\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    'a': \"b\"\n\n  namespace: y\ndata:\n  port: 8080\n  on: true\n  off: no\n  z: x~\n", true},
	{"a:\n- x\n- y: 1\n  z: [a, 'b c', \"d\"]\nb: null\n", true},
	{"a:\n  - 0\n  - 12345\n", true},
	{"a: 'it''s'\n", false},
	{"a: \"x\\ny\"\n", false},
	{"a: |\n  x\n", false},
	{"a: &x 1\nb: *x\n", false},
	{"a: !!str 1\n", false},
	{"a: 1.5\n", false},
	{"a: 0x10\n", false},
	{"a: 010\n", false},
	{"a: 2024-01-01\n", false},
	{"a: ~\n", false},
	{"a:\n", false},
	{"a: b\n  c\n", false},
	{"a: [b,\n  c]\n", false},
	{"a: b\na: c\n", false},
	{"<<: {a: b}\n", false},
	{"a:\tb\n", false},
	{"a: b\r\n", false},
	{"a: é\n", false},
	{"%YAML 1.2\n---\na: b\n", false},
	{"--- {a: b}\n", false},
	{"a: b\n...\n", false},
	{"- a\n", false},
	{"a: {b: }\n", false},
	{"a: [b, ]\n", false},
	{"a: b: c\n", false},
	{"a: b:c\nb: c #d\nc: \"\"\nd: ''\non: Yes\n8080: x\napp.kubernetes.io/name: y\n", true},
	{"a: [ b , c d ]  # e\nb: [{c: d}, {e: [f]}]\nc:  x\n", true},
	{"- a: b\n", false},
	{"a:\n- \"b\": c\n  d: [e]\n- [f, g]\n- a:\n    - b\n  c: d\n", true},
	{"a: -1\n", false},
	{"a: 12:30\n", false},
	{"a: 1234567890123456789\n", false},
	{"a: b:\n", false},
	{"\"a\" : b\n", false},
	{"a: b\n- c\n", false},
	{"a: {b: c}x\n", false},
	{"a: \"b\"c\n", false},
	{"---\n", false},
	{"a: http://x\n", true},
	{"a: {b: http://x}\n", false},
	{"? a\n: b\n", false},
	{"  a: b\n", false},
	{"a:\n  b: c\n d: e\n", false},
	{"a:\n  - b\n  c: d\n", false},
}

func TestQuickParseLeavesDeepNestingToYAML(t *testing.T) {
	deep := "a: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n"
	if _, _, ok := quickParse(deep, 0, DefaultValues); ok {
		t.Error("quickParse read 100,000 nested lists")
	}
	var block strings.Builder
	for i := range 100 {
		block.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	block.WriteString(strings.Repeat(" ", 100) + "a: b\n")
	if _, _, ok := quickParse(block.String(), 0, DefaultValues); ok {
		t.Error("quickParse read 100 nested mappings")
	}
	shallow := "a: " + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "\n"
	if !checkQuickParse(t, shallow) {
		t.Error("quickParse declined 60 nested lists")
	}
}

func TestQuickParseStopsAtWhatIsLeftOfTheValuesLimit(t *testing.T) {
	doc := "a: [b, c, d]\n" // the document, a mapping, a list, three strings
	if _, n, ok := quickParse(doc, 0, 6); !ok || n != 6 {
		t.Errorf("quickParse with room for 6 values: %d values, ok %v; want 6, true", n, ok)
	}
	if _, _, ok := quickParse(doc, 0, 5); ok {
		t.Error("quickParse read 6 values with room for 5")
	}
}

func TestQuickParseReadsOnlyWhatYAMLReadsTheSame(t *testing.T) {
	for _, tc := range quickCases {
		if got := checkQuickParse(t, tc.text); got != tc.read {
			t.Errorf("quickParse read %v, want %v:\n%s", got, tc.read, tc.text)
		}
	}
}

// FuzzQuickParse holds quickParse to yaml.v3 and the converter on every
// document it reads.
func FuzzQuickParse(f *testing.F) {
	for _, tc := range quickCases {
		f.Add(tc.text)
	}
	for _, doc := range goodRepo {
		f.Add(doc)
	}
	for _, g := range []string{"examples/*/mesh/*.yaml", filepath.Join(fixtures.FindAROHCP(), "mesh", "*.yaml")} {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(string(data))
			}
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, c := range splitDocuments(text) {
			checkQuickParse(t, c.text)
		}
	})
}
