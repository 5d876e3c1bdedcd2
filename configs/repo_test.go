package configs

import (
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDecodeSettings(t *testing.T) {
	src := `values: cfg/values.yaml
manifests: deploy/mesh
cloud: public
environment: prod
region: eastus
regionShort: use
stamp: 3
meshops:
  istioSystemNamespace: istio-system
  ingressGatewayNamespace: istio-ingress
  revisionPattern: <major>-<minor>-<patch>
  namespaces: [a, b]
  restart:
    batchSize: 3
    maxUnavailable: 10%
    initialBatch: 2
    workloadTimeout: 90s
    timeout: 1h
    namespaceOrder: [b]
    deleteBarePods: true
  autoRollback: false
  defaultDenyExemptions:
  - namespace: legacy
    reason: migrating
  minReadyIstiod: 2
`
	s := DefaultSettings()
	lines := &settingsLines{file: "meshops.yaml"}
	if probs := decodeSettings("meshops.yaml", []byte(src), &s, lines); len(probs) > 0 {
		t.Fatal(probs)
	}
	want := Settings{
		Values: []string{"cfg/values.yaml"}, Manifests: "deploy/mesh",
		Context: Context{Cloud: "public", Environment: "prod", Region: "eastus", RegionShort: "use", Stamp: "3"},
		Extensions: Extensions{
			IstioSystemNamespace: "istio-system", IngressGatewayNamespace: "istio-ingress", IngressGatewayService: DefaultIngressGatewayService,
			RevisionPattern: "<major>-<minor>-<patch>", Namespaces: []string{"a", "b"},
			Restart:               Restart{BatchSize: 3, MaxUnavailable: intstr.FromString("10%"), InitialBatch: 2, WorkloadTimeout: 90 * time.Second, Timeout: time.Hour, NamespaceOrder: []string{"b"}, DeleteBarePods: true},
			AutoRollback:          false,
			DefaultDenyExemptions: []Exemption{{Namespace: "legacy", Reason: "migrating"}},
			MinReadyIstiod:        2,
			Revisions:             DefaultRevisions(),
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("settings =\n%+v\nwant\n%+v", s, want)
	}
	if probs := checkSettings(s, lines); len(probs) > 0 {
		t.Errorf("checkSettings: %v", probs)
	}
	if lines.namespaces[1] != 12 || lines.exemptions[0] != 23 {
		t.Errorf("lines = %+v", lines)
	}

	// The settings survive JSON, durations as text.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"workloadTimeout":"1m30s"`) || !strings.Contains(string(b), `"maxUnavailable":"10%"`) {
		t.Errorf("JSON = %s", b)
	}
	var back Settings
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

// TestReadmeListsDefaults keeps the README's table of defaults and
// DefaultSettings from drifting apart.
func TestReadmeListsDefaults(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultSettings()
	e := d.Extensions
	rows := map[string]string{
		"`values`":                          "`" + d.Values[0] + "`",
		"`manifests`":                       "`" + d.Manifests + "`",
		"`meshops.istioSystemNamespace`":    "`" + e.IstioSystemNamespace + "`",
		"`meshops.ingressGatewayNamespace`": "`" + e.IngressGatewayNamespace + "`",
		"`meshops.revisionPattern`":         "`" + e.RevisionPattern + "`",
		"`meshops.namespaces`":              "`[]`",
		"`meshops.restart.batchSize`":       "`" + strconv.Itoa(e.Restart.BatchSize) + "`",
		"`meshops.restart.maxUnavailable`":  "`\"" + e.Restart.MaxUnavailable.String() + "\"`",
		"`meshops.restart.initialBatch`":    "`" + strconv.Itoa(e.Restart.InitialBatch) + "`",
		"`meshops.restart.workloadTimeout`": "`" + strings.TrimSuffix(e.Restart.WorkloadTimeout.String(), "0s") + "`",
		"`meshops.restart.timeout`":         "`" + strings.TrimSuffix(e.Restart.Timeout.String(), "0s") + "`",
		"`meshops.restart.namespaceOrder`":  "`[]`",
		"`meshops.restart.deleteBarePods`":  "`" + strconv.FormatBool(e.Restart.DeleteBarePods) + "`",
		"`meshops.autoRollback`":            "`" + strconv.FormatBool(e.AutoRollback) + "`",
		"`meshops.defaultDenyExemptions`":   "`[]`",
		"`meshops.minReadyIstiod`":          "`" + strconv.Itoa(e.MinReadyIstiod) + "`",
		"`meshops.revisions.provider`":      "`" + string(e.Revisions.Provider) + "`",
		"`meshops.revisions.completeAfter`": "`" + e.Revisions.CompleteAfter.String() + "`",
		"`meshops.revisions.onDowngrade`":   "`" + string(e.Revisions.OnDowngrade) + "`",
	}
	for field, def := range rows {
		if !strings.Contains(string(readme), "| "+field+" | "+def+" |") {
			t.Errorf("README.md has no row %q with default %s", field, def)
		}
	}
}

func TestSettingsProblems(t *testing.T) {
	src := "meshops:\n  namespaces: [a, a, B]\n  restart: {batchSize: 0, maxUnavailable: 0%, initialBatch: 0, workloadTimeout: 10m, timeout: 5m, namespaceOrder: [x_y]}\n  minReadyIstiod: 0\n  istioSystemNamespace: ''\n  autoRollback: yes please\n  defaultDenyExemptions: {namespace: x}\n"
	s := DefaultSettings()
	lines := &settingsLines{file: "meshops.yaml"}
	probs := decodeSettings("meshops.yaml", []byte(src), &s, lines)
	probs = append(probs, checkSettings(s, lines)...)
	probs.Sort()
	want := []string{
		`meshops.yaml:2: meshops.namespaces[1]: namespace "a" is listed twice`,
		`meshops.yaml:2: meshops.namespaces[2]: "B" is not a valid namespace name`,
		`meshops.yaml:3: meshops.restart.batchSize: expected at least 1, got 0`,
		`meshops.yaml:3: meshops.restart.initialBatch: expected at least 1, got 0`,
		`meshops.yaml:3: meshops.restart.maxUnavailable: expected a percentage from 1% to 100%, got "0%"`,
		`meshops.yaml:3: meshops.restart.namespaceOrder[0]: "x_y" is not a valid namespace name`,
		`meshops.yaml:3: meshops.restart.workloadTimeout: the per-workload timeout 10m0s is longer than the overall timeout 5m0s`,
		`meshops.yaml:4: meshops.minReadyIstiod: expected at least 1, got 0`,
		`meshops.yaml:5: meshops.istioSystemNamespace: "" is not a valid namespace name`,
		`meshops.yaml:6: meshops.autoRollback: expected true or false, got the string "yes please"`,
		`meshops.yaml:7: meshops.defaultDenyExemptions: expected a list of {namespace, reason}, got a mapping`,
	}
	got := problemStrings(probs)
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %s\nwant prefix %s", i, got[i], want[i])
		}
	}
}

// restart.maxUnavailable takes what a Deployment's maxUnavailable takes: a
// number of pods or a percentage; anything else names the field and how to
// write it.
func TestMaxUnavailableIsAPodCountOrAPercentage(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want intstr.IntOrString
		prob string
	}{
		{yaml: "3", want: intstr.FromInt32(3)},
		{yaml: `"25%"`, want: intstr.FromString("25%")},
		{yaml: "100%", want: intstr.FromString("100%")},
		{yaml: "0", prob: "expected at least 1 pod, got 0"},
		{yaml: "-2", prob: "expected at least 1 pod, got -2"},
		{yaml: `"101%"`, prob: `expected a percentage from 1% to 100%, got "101%"`},
		{yaml: "a quarter", prob: `expected a number of pods or a percentage such as "25%", got "a quarter"`},
		{yaml: `"25"`, prob: `expected a number of pods or a percentage such as "25%", got "25"`},
		{yaml: "2.5", prob: "expected a number or a percentage, got"},
		{yaml: "[1]", prob: "expected a number or a percentage, got"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			src := "meshops:\n  restart:\n    maxUnavailable: " + tc.yaml + "\n"
			s := DefaultSettings()
			lines := &settingsLines{file: "meshops.yaml"}
			probs := decodeSettings("meshops.yaml", []byte(src), &s, lines)
			probs = append(probs, checkSettings(s, lines)...)
			got := problemStrings(probs)
			if tc.prob == "" {
				if len(got) > 0 || s.Extensions.Restart.MaxUnavailable != tc.want {
					t.Errorf("maxUnavailable = %v, problems %v; want %v", s.Extensions.Restart.MaxUnavailable, got, tc.want)
				}
				return
			}
			want := "meshops.yaml:3: meshops.restart.maxUnavailable: " + tc.prob
			if len(got) != 1 || !strings.HasPrefix(got[0], want) || !strings.Contains(got[0], "25%") {
				t.Errorf("problems = %v; want one starting %q, with the fix", got, want)
			}
		})
	}
}
