package verify

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/test/golden"
)

// findingsOfABrokenMesh: a pinned namespace, an uninjected pod, a
// leftover tag and a missing TLS Secret, for the renderings.
func findingsOfABrokenMesh() []Finding {
	s, d := clean()
	s.Namespaces["fleet"] = observe.Namespace{Name: "fleet", Rev: "asm-1-29"}
	w := workload(s, "maestro", "maestro-api")
	w.Pods = append(w.Pods, observe.Pod{Name: "maestro-api-3"})
	s.Tags["prod-canary"] = observe.Tag{Name: "prod-canary", Webhook: "istio-revision-tag-prod-canary-aks-istio-system", Revision: "asm-1-29"}
	s.Gateways[0].Credentials[0].Present = false
	return Check(s, d)
}

func TestRenderTextGolden(t *testing.T) {
	for name, findings := range map[string][]Finding{"findings.txt": findingsOfABrokenMesh(), "clean.txt": nil} {
		var b bytes.Buffer
		if err := RenderText(&b, findings); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, name, b.Bytes())
	}
}

func TestRenderJSONGolden(t *testing.T) {
	for name, findings := range map[string][]Finding{"findings.json": findingsOfABrokenMesh(), "clean.json": nil} {
		var b bytes.Buffer
		if err := RenderJSON(&b, findings); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, name, b.Bytes())
	}
}

func TestSummaryKeepsTheFirstFindingsAndCountsTheRest(t *testing.T) {
	findings := findingsOfABrokenMesh()
	got := Summary(findings, 2)
	if !strings.HasPrefix(got, "error namespace-label Namespace/fleet: pinned") || !strings.HasSuffix(got, "; and 2 more") || strings.Count(got, "(fix: ") != 2 {
		t.Errorf("Summary(4 findings, 2) = %q", got)
	}
	if all := Summary(findings, len(findings)); strings.Contains(all, "more") || strings.Count(all, "(fix: ") != 4 {
		t.Errorf("Summary(4 findings, 4) = %q", all)
	}
}
