package aks_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/revisions/aks"
)

// staticToken is a credential that always has the token fakeARM accepts;
// TestDefaultCredential covers azidentity itself.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (f *fakeARM) options() aks.Options {
	o := aks.DefaultOptions()
	o.SubscriptionID, o.ResourceGroup, o.Cluster = sub, rg, name
	o.ARMEndpoint = f.srv.URL
	o.CAFile = f.ca
	o.Credential = staticToken{}
	o.PollFrequency = time.Millisecond
	return o
}

func (f *fakeARM) client(t *testing.T) *aks.Client {
	t.Helper()
	c, err := aks.New(f.options())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestObserveReadsRevisionsAndWhyOthersAreNotAvailable(t *testing.T) {
	f := newFakeARM(t, "asm-1-28")
	// asm-1-30 is n+2 of asm-1-28 but needs Kubernetes 1.34: AKS lists only asm-1-29.
	f.upgrades["asm-1-28"] = []string{"asm-1-29"}
	// asm-1-31 would run on 1.33 but is n+3.
	f.catalog = append(f.catalog, rev("asm-1-31", nil, "1.33"))
	st, err := f.client(t).Observe(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.MeshEnabled || len(st.Installed) != 1 || st.Installed[0].Name != "asm-1-28" || st.ProvisioningState != "Succeeded" ||
		st.KubernetesVersion != "1.33.2" || !strings.HasSuffix(st.Cluster, "/managedClusters/"+name) || st.Operation != nil {
		t.Errorf("state = %+v", st)
	}
	if !slices.Equal(st.Available, []string{"asm-1-29"}) {
		t.Errorf("available = %v, want [asm-1-29]", st.Available)
	}
	want := []revisions.Unavailable{
		{Revision: "asm-1-27", Reason: "older than installed asm-1-28: AKS upgrades only forward"},
		{Revision: "asm-1-30", Reason: "runs on Kubernetes 1.34, 1.35, the cluster runs 1.33.2"},
		{Revision: "asm-1-31", Reason: "not an upgrade AKS offers from asm-1-28 (it offers asm-1-29: n+1 or n+2 on this Kubernetes version)"},
	}
	if !reflect.DeepEqual(st.Unavailable, want) {
		t.Errorf("unavailable = %+v\nwant %+v", st.Unavailable, want)
	}
	// The state is what Decide needs to say why asm-1-30 cannot come.
	d := revisions.Decide(st, revisions.Desired{Shape: revisions.ShapeSingle, Target: parse(t, "asm-1-30"), OnDowngrade: revisions.DowngradeRefuse})
	if d.Kind != revisions.KindBlocked || !strings.Contains(d.Reason, "runs on Kubernetes 1.34, 1.35, the cluster runs 1.33.2") {
		t.Errorf("decision = %s", d)
	}
}

func TestObserveWithTheMeshDisabledOffersTheLocationsCompatibleRevisions(t *testing.T) {
	f := newFakeARM(t)
	st, err := f.client(t).Observe(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.MeshEnabled || len(st.Installed) != 0 || !slices.Equal(st.Available, []string{"asm-1-27", "asm-1-28", "asm-1-29"}) ||
		len(st.Unavailable) != 1 || st.Unavailable[0].Revision != "asm-1-30" {
		t.Errorf("state = %+v", st)
	}
}

func TestInstallEnablesTheMeshAndPutsTheClusterAsReadWithOnlyTheMeshChanged(t *testing.T) {
	f := newFakeARM(t)
	before := mustJSON(t, f.cluster)
	c := f.client(t)
	op, err := c.SetRevisions(context.Background(), revisions.KindInstall, []string{"asm-1-29"})
	if err != nil {
		t.Fatal(err)
	}
	if op.ResumeToken == "" || op.Kind != revisions.KindInstall || !slices.Equal(op.Revisions, []string{"asm-1-29"}) {
		t.Errorf("operation = %+v", op)
	}
	if err := c.Wait(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	if got := f.installed(); !slices.Equal(got, []string{"asm-1-29"}) {
		t.Errorf("installed = %v", got)
	}
	if len(f.puts) != 1 || f.ifMatch[0] != `"1"` {
		t.Fatalf("%d PUTs, If-Match %q; want one with the ETag read", len(f.puts), f.ifMatch)
	}
	var put map[string]any
	if err := json.Unmarshal(f.puts[0], &put); err != nil {
		t.Fatal(err)
	}
	sm := put["properties"].(map[string]any)["serviceMeshProfile"].(map[string]any)
	if sm["mode"] != "Istio" || !reflect.DeepEqual(sm["istio"].(map[string]any)["revisions"], []any{"asm-1-29"}) ||
		sm["istio"].(map[string]any)["components"] == nil {
		t.Errorf("serviceMeshProfile sent = %v; want mode Istio, revisions [asm-1-29] and the components kept", sm)
	}
	// Everything else is sent back as it was read.
	for _, key := range []string{"dnsPrefix", "enableRBAC", "agentPoolProfiles", "networkProfile", "kubernetesVersion"} {
		if !reflect.DeepEqual(before["properties"].(map[string]any)[key], put["properties"].(map[string]any)[key]) {
			t.Errorf("properties.%s sent = %v, read %v", key, put["properties"].(map[string]any)[key], before["properties"].(map[string]any)[key])
		}
	}
	if !reflect.DeepEqual(before["tags"], put["tags"]) || put["location"] != location {
		t.Errorf("tags or location changed: %v %v", put["tags"], put["location"])
	}
}

func TestWaitResumesAfterARestartWithoutASecondPUT(t *testing.T) {
	f := newFakeARM(t, "asm-1-28")
	f.upgrades["asm-1-28"] = []string{"asm-1-29"}
	f.hold = true
	op, err := f.client(t).SetRevisions(context.Background(), revisions.KindCanaryStart, []string{"asm-1-28", "asm-1-29"})
	if err != nil {
		t.Fatal(err)
	}
	// The op is data: it survives the process through meshops' state record.
	var stored revisions.Operation
	if err := json.Unmarshal(mustBytes(t, op), &stored); err != nil {
		t.Fatal(err)
	}

	// A new process: a new client, the stored operation.
	restarted := f.client(t)
	st, err := restarted.Observe(context.Background(), &stored)
	if err != nil {
		t.Fatal(err)
	}
	if st.ProvisioningState != "Updating" || st.Operation == nil || st.Operation.ResumeToken != op.ResumeToken {
		t.Fatalf("state = %+v, want Updating with the stored operation", st)
	}
	d := revisions.Decide(st, revisions.Desired{Shape: revisions.ShapeSingle, Target: parse(t, "asm-1-29")})
	if d.Kind != revisions.KindResume || d.Operation.ResumeToken != op.ResumeToken {
		t.Fatalf("decision = %s, want resume", d)
	}
	f.set(func(f *fakeARM) { f.hold = false })
	if err := restarted.Wait(context.Background(), *d.Operation); err != nil {
		t.Fatal(err)
	}
	if len(f.puts) != 1 {
		t.Errorf("%d PUTs, want 1: the restarted process must resume, not start again", len(f.puts))
	}
	if got := f.installed(); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) {
		t.Errorf("installed = %v", got)
	}
	// Settled: the stored operation is over.
	if st, err := restarted.Observe(context.Background(), &stored); err != nil || st.Operation != nil {
		t.Errorf("after the wait: operation %+v, %v", st.Operation, err)
	}
}

func TestAPUTWhileAnotherOperationRunsIsInProgressAndWaitPollsTheCluster(t *testing.T) {
	f := newFakeARM(t, "asm-1-28")
	f.hold = true
	c := f.client(t)
	if _, err := c.SetRevisions(context.Background(), revisions.KindCanaryStart, []string{"asm-1-28", "asm-1-29"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.SetRevisions(context.Background(), revisions.KindComplete, []string{"asm-1-29"})
	var inProgress *aks.InProgressError
	if !errors.As(err, &inProgress) || inProgress.Code != "OperationNotAllowed" || !strings.HasPrefix(err.Error(), c.ID()+": another operation is in progress") {
		t.Fatalf("second PUT: %v, want an InProgressError", err)
	}
	// Without a token (not our operation), Wait polls the cluster.
	done := make(chan error, 1)
	go func() { done <- c.Wait(context.Background(), revisions.Operation{}) }()
	f.set(func(f *fakeARM) { f.hold = false; f.finish(f.running) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(f.puts) != 1 {
		t.Errorf("%d PUTs accepted, want 1", len(f.puts))
	}
}

func TestAFailedOperationNamesItsARMErrorCode(t *testing.T) {
	f := newFakeARM(t, "asm-1-28")
	f.fail = &armErr{code: "ServiceMeshUpgradeFailed", message: "istiod asm-1-29 did not become ready"}
	c := f.client(t)
	op, err := c.SetRevisions(context.Background(), revisions.KindCanaryStart, []string{"asm-1-28", "asm-1-29"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Wait(context.Background(), op)
	var failed *aks.OperationFailedError
	if !errors.As(err, &failed) || failed.Code != "ServiceMeshUpgradeFailed" || failed.Operation.Kind != revisions.KindCanaryStart {
		t.Fatalf("wait: %v, want an OperationFailedError", err)
	}
	want := c.ID() + ": the canary-start operation to [asm-1-28, asm-1-29] failed (ServiceMeshUpgradeFailed): istiod asm-1-29 did not become ready"
	if err.Error() != want {
		t.Errorf("error = %q\nwant %q", err, want)
	}
	if st, err := c.Observe(context.Background(), &op); err != nil || st.ProvisioningState != "Failed" || st.Operation != nil {
		t.Errorf("after the failure: %+v, %v", st, err)
	}
}

func TestRefusedChangesAreTyped(t *testing.T) {
	t.Run("a revision AKS does not allow", func(t *testing.T) {
		f := newFakeARM(t, "asm-1-28")
		f.refuse = &armErr{400, "BadRequest", "Requested change in revisions is not allowed. Reason: asm-1-30 is not a valid upgrade."}
		_, err := f.client(t).SetRevisions(context.Background(), revisions.KindCanaryStart, []string{"asm-1-28", "asm-1-30"})
		var na *aks.NotAllowedError
		if !errors.As(err, &na) || !slices.Equal(na.Revisions, []string{"asm-1-28", "asm-1-30"}) || !strings.Contains(err.Error(), "not a valid upgrade") {
			t.Errorf("err = %v, want a NotAllowedError", err)
		}
	})
	t.Run("a cluster changed since it was read", func(t *testing.T) {
		f := newFakeARM(t, "asm-1-28")
		f.bumpETag = true
		_, err := f.client(t).SetRevisions(context.Background(), revisions.KindCanaryStart, []string{"asm-1-28", "asm-1-29"})
		var conflict *aks.ConflictError
		if !errors.As(err, &conflict) || len(f.puts) != 0 {
			t.Errorf("err = %v, %d PUTs; want a ConflictError and nothing written", err, len(f.puts))
		}
	})
}

func TestAMissingPermissionIsNamed(t *testing.T) {
	f := newFakeARM(t, "asm-1-28")
	f.forbid = "/meshRevisionProfiles"
	_, err := f.client(t).Observe(context.Background(), nil)
	var re *azcore.ResponseError
	if err == nil || !strings.Contains(err.Error(), "AuthorizationFailed: The client does not have authorization") ||
		!strings.Contains(err.Error(), "needs Microsoft.ContainerService/locations/meshRevisionProfiles/read at subscription scope") ||
		!errors.As(err, &re) || re.StatusCode != 403 {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultCredentialUsesACustomAuthorityWithoutInstanceDiscovery(t *testing.T) {
	f := newFakeARM(t, "asm-1-29")
	t.Setenv("AZURE_TENANT_ID", tenant)
	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000cc")
	t.Setenv("AZURE_CLIENT_SECRET", "s3cret")
	// Nothing else may answer: no managed identity endpoint, no CLI.
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	t.Setenv("PATH", "")
	t.Setenv(aks.EnvSubscriptionID, sub)
	t.Setenv(aks.EnvResourceGroup, rg)
	t.Setenv(aks.EnvCluster, name)
	t.Setenv(aks.EnvARMEndpoint, f.srv.URL)
	t.Setenv(aks.EnvAuthorityHost, f.srv.URL)
	t.Setenv(aks.EnvCAFile, f.ca)
	c, err := aks.New(aks.OptionsFromEnv(aks.DefaultOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Observe(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if f.issuedTokens == 0 {
		t.Error("no token was issued by the custom authority")
	}
}

func TestOptions(t *testing.T) {
	if _, err := aks.New(aks.DefaultOptions()); err == nil || !strings.Contains(err.Error(), "no subscription (AZURE_SUBSCRIPTION_ID or meshops.revisions.aks), no resource group (MESHOPS_AKS_RESOURCE_GROUP") {
		t.Errorf("no cluster: %v", err)
	}
	o := aks.DefaultOptions()
	o.SubscriptionID, o.ResourceGroup, o.Cluster, o.Credential = sub, rg, name, staticToken{}
	o.ARMEndpoint = "http://127.0.0.1:1"
	if _, err := aks.New(o); err == nil || !strings.Contains(err.Error(), "use https") {
		t.Errorf("http endpoint: %v", err)
	}
	o.ARMEndpoint = "https://management.chinacloudapi.cn/"
	c, err := aks.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Options(); got.AuthorityHost != "https://login.chinacloudapi.cn/" || got.ARMAudience != "https://management.core.chinacloudapi.cn" {
		t.Errorf("a sovereign cloud's endpoint alone: authority %s, audience %s", got.AuthorityHost, got.ARMAudience)
	}
	if c.ID() != "/subscriptions/"+sub+"/resourceGroups/"+rg+"/providers/Microsoft.ContainerService/managedClusters/"+name {
		t.Errorf("id = %s", c.ID())
	}
}

func parse(t *testing.T, name string) mesh.Revision {
	t.Helper()
	r, err := mesh.DefaultPattern().Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustJSON copies v through JSON, as a client would read it.
func mustJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustBytes(t, v), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
