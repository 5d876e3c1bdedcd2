package ref

import (
	"encoding/json"
	"testing"
)

func TestWorkloadsRoundTripThroughTheRecordForm(t *testing.T) {
	in := []Workload{{Kind: Deployment, Namespace: "maestro", Name: "maestro-api"}, {Kind: Pod, Namespace: "fleet", Name: "debug"}}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `["Deployment/maestro/maestro-api","Pod/fleet/debug"]`; got != want {
		t.Fatalf("record form %s, want %s", got, want)
	}
	var out []Workload
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Errorf("round trip gave %v, want %v", out, in)
	}
}

func TestAWorkloadThatIsNotKindNamespaceNameIsRefused(t *testing.T) {
	for _, s := range []string{"", "Deployment", "Deployment/maestro", "Deployment//x", "/ns/x"} {
		var w Workload
		if err := w.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("%q accepted as %v", s, w)
		}
	}
}

func TestObjectsOfTheSameKindInDifferentGroupsAreDifferentRefs(t *testing.T) {
	istio := Object{Group: "networking.istio.io", Kind: "Gateway", Namespace: "ingress", Name: "gw"}
	gatewayAPI := Object{Group: "gateway.networking.k8s.io", Kind: "Gateway", Namespace: "ingress", Name: "gw"}
	if istio == gatewayAPI || istio.Metadata() == gatewayAPI.Metadata() {
		t.Error("an Istio Gateway and a Gateway API Gateway of the same name are one ref")
	}
	if FromMetadata(istio.Metadata()) != istio {
		t.Error("metadata round trip lost a field")
	}
}

func TestWorkloadKindsKnowTheirGroupAndWhetherARestartMovesThem(t *testing.T) {
	cases := []struct {
		kind        WorkloadKind
		group       string
		restartable bool
	}{
		{Deployment, "apps", true}, {StatefulSet, "apps", true}, {DaemonSet, "apps", true},
		{Job, "batch", false}, {CronJob, "batch", false}, {Pod, "", false},
	}
	for _, c := range cases {
		if c.kind.Group() != c.group || c.kind.Restartable() != c.restartable {
			t.Errorf("%s: group %q restartable %v, want %q %v", c.kind, c.kind.Group(), c.kind.Restartable(), c.group, c.restartable)
		}
	}
}
