package plan

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshops/meshops/configs"
)

// plan --base shows neither the old nor the new value of a rotated secret,
// whether its key says so or only its value does (a connection string, a
// token in a URL, a Bearer inside a mesh config's text), and still shows
// a harmless boolean under a token-like key as it is.
func TestCompareConfigsHidesARotatedSecretWhateverItsKey(t *testing.T) {
	values := func(v string, forward bool) map[string]any {
		return map[string]any{"svc": map[string]any{"x": map[string]any{
			"endpoint":             "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccessKey=" + v + "-sak",
			"jwksUri":              "https://login.example.com/keys?access_token=" + v + "-query",
			"headers":              []any{"authorization: Bearer " + v + "-bearer-0"},
			"forwardOriginalToken": forward,
		}}}
	}
	changes := compareValues(values("OLD", true), values("NEW", false))
	var shown strings.Builder
	for _, c := range changes {
		shown.WriteString(c.Key + " " + c.Before + " → " + c.After + "\n")
	}
	for _, s := range []string{"OLD-", "NEW-"} {
		if strings.Contains(shown.String(), s) {
			t.Errorf("changes show a rotated secret (%s):\n%s", s, shown.String())
		}
	}
	if !strings.Contains(shown.String(), "svc.x.forwardOriginalToken true → false") {
		t.Errorf("a boolean under a token-like key is not shown as it is:\n%s", shown.String())
	}

	mesh := func(v string) configs.Manifest {
		return manifestOf(t, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "istio-shared-configmap-asm-1-29", "namespace": "aks-istio-system"},
			"data":     map[string]any{"mesh": "extensionProviders:\n- name: authz\n  envoyExtAuthzHttp:\n    service: authz.svc\n    headers:\n      authorization: Bearer " + v + "-mesh-0\n"},
		}}, configs.Source{})
	}
	ms, err := compareManifests([]configs.Manifest{mesh("OLD")}, []configs.Manifest{mesh("NEW")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Edit != EditChanged || ms[0].Diff != "" {
		t.Errorf("a mesh config whose only change is a masked Bearer: %+v, want changed with no diff", ms)
	}
}

// A step's reason can quote an API server error, which quotes the value
// it refused: every renderer masks what it writes, and the JSON stays JSON.
func TestRenderersMaskSecretsQuotedInStepReasons(t *testing.T) {
	p := &Plan{Scenario: ScenarioDrift, Reason: "drift", Steps: []Step{{Phase: PhaseValidate, Action: ActionCheck,
		Reason: `ConfigMap "x" is invalid: data.mesh: Invalid value: "authorization: Bearer planted-4-abcdef"`}}}
	text, md, js := renderAll(t, p)
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String()} {
		if strings.Contains(out, "planted-4") || !strings.Contains(out, MaskMarker) {
			t.Errorf("the %s plan does not mask the quoted Bearer:\n%s", name, out)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Errorf("masked JSON plan does not parse: %v", err)
	}
}
