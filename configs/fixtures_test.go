package configs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// aroHCPRepo builds a config repo in a temp dir from the ARO HCP fixtures:
// their config.yaml, their eight manifest files, and a meshops.yaml naming
// the dev/westus3 cluster the manifests were rendered for.
func aroHCPRepo(t *testing.T) string {
	t.Helper()
	fixtures := fixtureDir(t)
	files := map[string]string{
		"meshops.yaml": "cloud: dev\nenvironment: dev\nregion: westus3\nregionShort: usw3\nstamp: 1\n",
	}
	config, err := os.ReadFile(filepath.Join(fixtures, "config", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files["config/config.yaml"] = string(config)
	manifests, err := filepath.Glob(filepath.Join(fixtures, "mesh", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(manifests) != 8 {
		t.Fatalf("found %d manifest fixtures, want 8", len(manifests))
	}
	for _, m := range manifests {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		files["mesh/"+filepath.Base(m)] = string(data)
	}
	return writeFiles(t, files)
}

func TestLoadAROHCPManifests(t *testing.T) {
	fixtures := fixtureDir(t)
	repo, err := openRepo(fixtures, newBudget(DefaultLimits()))
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ms, probs, _, err := loadManifests(context.Background(), repo, "mesh", []string{"asm-1-29"})
	if err != nil || len(probs) > 0 {
		t.Fatalf("load: %v %v", err, probs)
	}
	perFile := map[string]int{}
	for _, m := range ms {
		perFile[m.Source.File]++
		if len(m.JSON()) == 0 || m.GetName() == "" || m.GetNamespace() == "" || m.Source.Line < 1 {
			t.Errorf("%s: incomplete manifest %+v", m.Source, m)
		}
	}
	want := map[string]int{
		"mesh/admin_api.yaml": 3, "mesh/aro_hcp_backend_dev.yaml": 2, "mesh/aro_hcp_frontend_dev.yaml": 7,
		"mesh/cluster_service.yaml": 7, "mesh/fleet.yaml": 2, "mesh/istio.yaml": 5,
		"mesh/maestro_server.yaml": 7, "mesh/sessiongate.yaml": 5,
	}
	for f, n := range want {
		if perFile[f] != n {
			t.Errorf("%s: %d objects, want %d", f, perFile[f], n)
		}
	}
	if len(ms) != 38 {
		t.Errorf("%d objects, want 38", len(ms))
	}
	// Sources: files sorted, document index and the line of each "---".
	first, last := ms[0], ms[len(ms)-1]
	if first.Source != (Source{File: "mesh/admin_api.yaml", Document: 0, Line: 1}) || first.ID() != "HTTPRoute/aro-hcp-admin-api/admin-api" {
		t.Errorf("first = %s %+v", first.ID(), first.Source)
	}
	if last.Source != (Source{File: "mesh/sessiongate.yaml", Document: 4, Line: 73}) || last.ID() != "RequestAuthentication/sessiongate/sessiongate-request-auth" {
		t.Errorf("last = %s %+v", last.ID(), last.Source)
	}
	// Port keys such as 8444: become strings, numbers int64, as in JSON.
	pa := ms[1]
	if mode, _, _ := unstructuredString(pa.Unstructured().Object, "spec", "portLevelMtls", "8444", "mode"); mode != "PERMISSIVE" {
		t.Errorf("%s portLevelMtls = %v", pa.ID(), pa.Unstructured().Object["spec"])
	}
}

func TestValidateAROHCPRepo(t *testing.T) {
	repo := aroHCPRepo(t)
	opts := DefaultOptions()
	opts.RepoPath = repo
	c, err := Load(context.Background(), opts)
	var probs Problems
	if err != nil {
		var ok bool
		if probs, ok = err.(Problems); !ok {
			t.Fatalf("Load: %v", err)
		}
	}
	// The fixtures break one real rule, twice: two namespaces that carry
	// manifests have no default-deny policy. fleet only has ALLOW policies
	// with selectors; aro-hcp-admin-api only routes (HTTPRoute,
	// VirtualService) and a PeerAuthentication.
	want := []string{
		`mesh/admin_api.yaml:7: metadata.namespace: namespace aro-hcp-admin-api has no default-deny AuthorizationPolicy (an ALLOW policy with an empty spec) (fix: add an AuthorizationPolicy named allow-nothing in aro-hcp-admin-api with spec: {}, or list aro-hcp-admin-api under meshops.defaultDenyExemptions in meshops.yaml with a reason)`,
		`mesh/fleet.yaml:7: metadata.namespace: namespace fleet has no default-deny AuthorizationPolicy (an ALLOW policy with an empty spec); its 1 ALLOW policies do not replace it: one with a selector or rules guards only what it names (fix: add an AuthorizationPolicy named allow-nothing in fleet with spec: {}, or list fleet under meshops.defaultDenyExemptions in meshops.yaml with a reason)`,
	}
	if got := problemStrings(probs); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", join(got), join(want))
	}
	if c == nil || len(c.Manifests) != 38 || c.Istio.Target.Name != "asm-1-29" || c.Istio.RegionRG != "hcp-underlay-dev-westus3" {
		t.Fatalf("config not loaded as expected: %+v", c)
	}

	// With both exempted, with reasons, the repo validates clean.
	opts.Override = func(s *Settings) {
		s.Extensions.DefaultDenyExemptions = []Exemption{
			{Namespace: "fleet", Reason: "fleet-controller only serves metrics"},
			{Namespace: "aro-hcp-admin-api", Reason: "guarded by the ops ingress"},
		}
	}
	if _, err := Load(context.Background(), opts); err != nil {
		t.Errorf("with exemptions: %v", err)
	}
}

func join(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
