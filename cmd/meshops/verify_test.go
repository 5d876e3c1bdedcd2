package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The example repo on a cluster it was never synced to: the tag is
// missing, mTLS is not STRICT, the gateway Service not pinned. verify
// exits 1 and the JSON lists the findings with their objects and fixes.
func TestVerifyExitsOneWithJSONFindingsOnAClusterNotYetSynced(t *testing.T) {
	installExampleCluster(t)
	var stdout, stderr bytes.Buffer
	code := runWith([]string{"verify", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "-o", "json"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr.String())
	}
	var out struct {
		Schema   string `json:"schema"`
		Errors   int    `json:"errors"`
		Findings []struct {
			Rule   string            `json:"rule"`
			Object map[string]string `json:"object"`
			Fix    string            `json:"fix"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if out.Schema != "meshops.io/verify/v1alpha1" || out.Errors == 0 {
		t.Fatalf("schema %q, %d errors; want findings:\n%s", out.Schema, out.Errors, stdout.String())
	}
	rules := map[string]bool{}
	for _, f := range out.Findings {
		if f.Object["name"] == "" || f.Fix == "" {
			t.Errorf("finding %+v lacks its object or fix", f)
		}
		rules[f.Rule] = true
	}
	for _, want := range []string{"tag", "mtls", "ingress-service"} {
		if !rules[want] {
			t.Errorf("no %s finding in:\n%s", want, stdout.String())
		}
	}
}

func TestVerifyRefusesAnUnknownOutputFormat(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runWith([]string{"verify", "--repo-path", exampleRepo, "-o", "table"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if !bytes.Contains(stderr.Bytes(), []byte(`-o/--output "table": expected text, json, yaml`)) {
		t.Errorf("stderr %q does not name the flag and the choices", stderr.String())
	}
}
