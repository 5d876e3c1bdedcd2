package armemu_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/meshops/meshops/test/armemu"
	"github.com/meshops/meshops/test/armemu/armclient"
)

// fakeMesh records what the emulator asks of the cluster; with a gate,
// each change waits until the test releases it.
type fakeMesh struct {
	mu    sync.Mutex
	calls []string
	gate  chan struct{}
	// fail makes installs fail with it.
	fail error
}

func (m *fakeMesh) do(ctx context.Context, call string) error {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, call)
	return nil
}

func (m *fakeMesh) InstallRevision(ctx context.Context, rev string) error {
	if m.fail != nil {
		return m.fail
	}
	return m.do(ctx, "install "+rev)
}

func (m *fakeMesh) RemoveRevision(ctx context.Context, rev string) error {
	return m.do(ctx, "remove "+rev)
}

func (m *fakeMesh) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// fixture is an emulator on HTTPS and the real SDK client pointed at it.
type fixture struct {
	srv    *armemu.Server
	conn   armemu.Connection
	client *armcontainerservice.ManagedClustersClient
	opts   armemu.Options
	http   *http.Client
}

func start(t *testing.T, mutate func(*armemu.Options)) *fixture {
	t.Helper()
	opts := armemu.DefaultOptions()
	opts.PollInterval = 10 * time.Millisecond
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := armemu.Start(opts, armemu.ServerOptions{CAFile: filepath.Join(t.TempDir(), "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &fixture{srv: srv, conn: srv.Connection(), opts: srv.Options()}
	co := f.clientOptions(t)
	f.http = co.Transport.(*http.Client)
	t.Cleanup(f.http.CloseIdleConnections)
	if f.client, err = armclient.ManagedClusters(f.conn, shortRetries); err != nil {
		t.Fatal(err)
	}
	return f
}

// shortRetries keeps the SDK's retry policy but with short delays.
func shortRetries(o *azcore.ClientOptions) {
	o.Retry = policy.RetryOptions{RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}
}

func (f *fixture) clientOptions(t *testing.T) azcore.ClientOptions {
	t.Helper()
	co, err := armclient.ClientOptions(f.conn)
	if err != nil {
		t.Fatal(err)
	}
	shortRetries(&co)
	return co
}

func (f *fixture) newClient(t *testing.T, cred azcore.TokenCredential) *armcontainerservice.ManagedClustersClient {
	t.Helper()
	client, err := armcontainerservice.NewManagedClustersClient(f.opts.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: f.clientOptions(t)})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func (f *fixture) get(t *testing.T) armcontainerservice.ManagedCluster {
	t.Helper()
	resp, err := f.client.Get(context.Background(), f.opts.ResourceGroup, f.opts.ClusterName, nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return resp.ManagedCluster
}

func (f *fixture) beginRevisions(t *testing.T, revs ...string) (*runtime.Poller[armcontainerservice.ManagedClustersClientCreateOrUpdateResponse], error) {
	t.Helper()
	return armclient.BeginSetRevisions(context.Background(), f.client, f.conn, revs)
}

func (f *fixture) setRevisions(t *testing.T, revs ...string) armcontainerservice.ManagedCluster {
	t.Helper()
	mc, err := armclient.SetRevisions(context.Background(), f.client, f.conn, revs, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("set revisions %v: %v", revs, err)
	}
	return mc
}

var revisionsOf = armclient.Revisions

func provisioningState(mc armcontainerservice.ManagedCluster) string {
	if mc.Properties == nil || mc.Properties.ProvisioningState == nil {
		return ""
	}
	return *mc.Properties.ProvisioningState
}

func responseError(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("got %v (%T), want an *azcore.ResponseError", err, err)
	}
	return re
}

func TestCanaryStartAndCompleteRunToSucceededAndChangeTheMesh(t *testing.T) {
	mesh := &fakeMesh{}
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.Mesh = mesh })

	mc := f.setRevisions(t, "asm-1-28", "asm-1-29")
	if got := revisionsOf(mc); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) || provisioningState(mc) != "Succeeded" {
		t.Fatalf("after canary start: revisions %v, provisioningState %s", got, provisioningState(mc))
	}
	mc = f.setRevisions(t, "asm-1-29")
	if got := revisionsOf(mc); !slices.Equal(got, []string{"asm-1-29"}) || provisioningState(mc) != "Succeeded" {
		t.Fatalf("after complete: revisions %v, provisioningState %s", got, provisioningState(mc))
	}
	if got, want := mesh.Calls(), []string{"install asm-1-29", "remove asm-1-28"}; !slices.Equal(got, want) {
		t.Fatalf("mesh changes = %v, want %v", got, want)
	}
	if got := f.srv.Installed(); !slices.Equal(got, []string{"asm-1-29"}) {
		t.Fatalf("installed = %v", got)
	}
}

func TestOperationStaysInProgressUntilTheMeshChangeIsDone(t *testing.T) {
	mesh := &fakeMesh{gate: make(chan struct{})}
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.Mesh = mesh })

	poller, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := poller.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if poller.Done() {
			t.Fatal("the operation is done before the mesh installed the revision")
		}
	}
	if st := provisioningState(f.get(t)); st != "Updating" {
		t.Fatalf("provisioningState while installing = %s, want Updating", st)
	}
	close(mesh.gate)
	res, err := poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st := provisioningState(res.ManagedCluster); st != "Succeeded" {
		t.Fatalf("provisioningState after the operation = %s", st)
	}
}

func TestPutWhileAnOperationRunsIsRefusedWith409(t *testing.T) {
	mesh := &fakeMesh{gate: make(chan struct{})}
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.Mesh = mesh })

	poller, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.beginRevisions(t, "asm-1-28")
	re := responseError(t, err)
	if re.StatusCode != http.StatusConflict || re.ErrorCode != "OperationNotAllowed" {
		t.Fatalf("second PUT: %d %s, want 409 OperationNotAllowed", re.StatusCode, re.ErrorCode)
	}
	close(mesh.gate)
	if _, err := poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// Once done, the rollback is accepted.
	if got := revisionsOf(f.setRevisions(t, "asm-1-28")); !slices.Equal(got, []string{"asm-1-28"}) {
		t.Fatalf("after rollback: %v", got)
	}
}

func TestFailedOperationReportsItsErrorAndLeavesTheMeshAlone(t *testing.T) {
	mesh := &fakeMesh{}
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.Mesh = mesh })
	f.srv.FailNextOperation(armemu.OperationFault{Code: "ServiceMeshUpgradeFailed", Message: "istiod asm-1-29 did not become ready"})

	poller, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	if err != nil {
		t.Fatal(err)
	}
	_, err = poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	re := responseError(t, err)
	if re.ErrorCode != "ServiceMeshUpgradeFailed" || !strings.Contains(err.Error(), "did not become ready") {
		t.Fatalf("PollUntilDone error: code %q, %v", re.ErrorCode, err)
	}
	if st := provisioningState(f.get(t)); st != "Failed" {
		t.Fatalf("provisioningState = %s, want Failed", st)
	}
	if calls := mesh.Calls(); len(calls) != 0 {
		t.Fatalf("a failed operation changed the mesh: %v", calls)
	}
	// As on AKS, the same PUT again retries the operation.
	f.setRevisions(t, "asm-1-28", "asm-1-29")
	if got := mesh.Calls(); !slices.Equal(got, []string{"install asm-1-29"}) {
		t.Fatalf("mesh changes after the retry = %v", got)
	}
}

func TestSDKRetriesServerErrorsAndDroppedConnections(t *testing.T) {
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"} })
	f.srv.FailRequests(armemu.RequestFault{Count: 2, Status: http.StatusInternalServerError, Method: http.MethodPut})
	f.setRevisions(t, "asm-1-28", "asm-1-29")

	f.srv.FailRequests(armemu.RequestFault{Count: 1, Drop: true, Method: http.MethodGet})
	if got := revisionsOf(f.get(t)); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) {
		t.Fatalf("revisions after retries = %v", got)
	}

	var puts []int
	var gets []armemu.Request
	for _, r := range f.srv.Requests() {
		if r.Method == http.MethodPut {
			puts = append(puts, r.Status)
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/managedClusters/"+f.opts.ClusterName) {
			gets = append(gets, r)
		}
	}
	if !slices.Equal(puts, []int{500, 500, 200}) {
		t.Fatalf("PUT statuses = %v, want two 500s, then the retry accepted", puts)
	}
	last := gets[len(gets)-2:]
	if !last[0].Dropped || last[1].Status != http.StatusOK {
		t.Fatalf("last two GETs of the cluster = %+v, want a dropped one, then 200", last)
	}
}

func TestRevisionChangesAKSRefusesAre400(t *testing.T) {
	tests := []struct {
		name      string
		installed []string
		revisions []string
		want      string
	}{
		{"three revisions", []string{"asm-1-28"}, []string{"asm-1-28", "asm-1-29", "asm-1-30"}, "at most two revisions"},
		{"a target not in the upgrade profile", []string{"asm-1-27"}, []string{"asm-1-27", "asm-1-30"}, "not an available upgrade from asm-1-27"},
		{"complete without a canary", []string{"asm-1-28"}, []string{"asm-1-29"}, "through a canary upgrade"},
		{"a revision the region does not offer", nil, []string{"asm-1-17"}, "Revision asm-1-17 is not supported"},
		{"a second canary during a canary", []string{"asm-1-28", "asm-1-29"}, []string{"asm-1-29", "asm-1-30"}, "is in progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mesh := &fakeMesh{}
			f := start(t, func(o *armemu.Options) { o.Installed = tt.installed; o.Mesh = mesh })
			_, err := f.beginRevisions(t, tt.revisions...)
			re := responseError(t, err)
			if re.StatusCode != http.StatusBadRequest || re.ErrorCode != "BadRequest" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PUT %v on %v: %d %s %v; want 400 BadRequest with %q", tt.revisions, tt.installed, re.StatusCode, re.ErrorCode, err, tt.want)
			}
			if st := provisioningState(f.get(t)); st != "Succeeded" || len(mesh.Calls()) != 0 {
				t.Fatalf("a refused PUT changed something: provisioningState %s, mesh %v", st, mesh.Calls())
			}
		})
	}
}

func TestUpgradeAndRevisionProfilesFollowTheKubernetesVersion(t *testing.T) {
	ctx := context.Background()
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"} })
	pager := f.client.NewListMeshUpgradeProfilesPager(f.opts.ResourceGroup, f.opts.ClusterName, nil)
	var profiles []*armcontainerservice.MeshUpgradeProfile
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		profiles = append(profiles, page.Value...)
	}
	if len(profiles) != 1 || *profiles[0].Name != "istio" || *profiles[0].Properties.Revision != "asm-1-28" {
		t.Fatalf("mesh upgrade profiles = %+v", profiles)
	}
	if got := derefs(profiles[0].Properties.Upgrades); !slices.Equal(got, []string{"asm-1-29", "asm-1-30"}) {
		t.Fatalf("upgrades from asm-1-28 = %v, want n+1 and n+2", got)
	}
	one, err := f.client.GetMeshUpgradeProfile(ctx, f.opts.ResourceGroup, f.opts.ClusterName, "istio", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cw := one.Properties.CompatibleWith; len(cw) != 1 || *cw[0].Name != "kubernetes" || !slices.Contains(derefs(cw[0].Versions), "1.33") {
		t.Fatalf("compatibleWith = %+v", cw)
	}

	revPager := f.client.NewListMeshRevisionProfilesPager(f.opts.Location, nil)
	var names []string
	for revPager.More() {
		page, err := revPager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			for _, r := range p.Properties.MeshRevisions {
				names = append(names, *r.Revision)
			}
		}
	}
	if !slices.Equal(names, []string{"asm-1-27", "asm-1-28", "asm-1-29", "asm-1-30"}) {
		t.Fatalf("mesh revision profiles list %v", names)
	}
	if _, err := f.client.GetMeshRevisionProfile(ctx, f.opts.Location, "istio", nil); err != nil {
		t.Fatal(err)
	}

	// On Kubernetes 1.31 neither asm-1-29 nor asm-1-30 runs: no upgrade.
	old := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.KubernetesVersion = "1.31.4" })
	p, err := old.client.GetMeshUpgradeProfile(ctx, old.opts.ResourceGroup, old.opts.ClusterName, "istio", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Properties.Upgrades) != 0 {
		t.Fatalf("upgrades on Kubernetes 1.31 = %v, want none", derefs(p.Properties.Upgrades))
	}
}

func derefs(ps []*string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, *p)
	}
	return out
}

// staticToken is a credential with a token the emulator never issued.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestRequestsWithoutAValidTokenAre401(t *testing.T) {
	f := start(t, nil)
	forged := f.newClient(t, staticToken("not-issued-by-the-emulator"))
	_, err := forged.Get(context.Background(), f.opts.ResourceGroup, f.opts.ClusterName, nil)
	re := responseError(t, err)
	if re.StatusCode != http.StatusUnauthorized || re.ErrorCode != "InvalidAuthenticationToken" {
		t.Fatalf("forged token: %d %s", re.StatusCode, re.ErrorCode)
	}
	if h := re.RawResponse.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer authorization_uri=") {
		t.Fatalf("WWW-Authenticate = %q", h)
	}

	// No header at all: not something the SDK sends, so plain HTTP.
	resp, err := f.http.Get(f.srv.URL + "/subscriptions/" + f.opts.SubscriptionID + "/resourceGroups/" + f.opts.ResourceGroup +
		"/providers/Microsoft.ContainerService/managedClusters/" + f.opts.ClusterName + "?api-version=" + armemu.APIVersion)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("x-ms-error-code") != "AuthenticationFailed" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %s %q %q", resp.Status, resp.Header.Get("x-ms-error-code"), resp.Header.Get("WWW-Authenticate"))
	}

	// A wrong secret gets no token.
	cred, err := azidentity.NewClientSecretCredential(f.opts.TenantID, f.opts.Clients[0].ID, "wrong", &azidentity.ClientSecretCredentialOptions{
		ClientOptions: f.clientOptions(t), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.newClient(t, cred).Get(context.Background(), f.opts.ResourceGroup, f.opts.ClusterName, nil)
	var authErr *azidentity.AuthenticationFailedError
	if !errors.As(err, &authErr) || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestWorkloadIdentityFederatedTokenIsAccepted(t *testing.T) {
	f := start(t, func(o *armemu.Options) {
		o.Clients = append(o.Clients, armemu.Client{ID: "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f", Assertion: "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"})
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(f.opts.Clients[1].Assertion), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: f.clientOptions(t), ClientID: f.opts.Clients[1].ID, TenantID: f.opts.TenantID,
		TokenFilePath: tokenFile, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.newClient(t, cred).Get(context.Background(), f.opts.ResourceGroup, f.opts.ClusterName, nil); err != nil {
		t.Fatalf("Get with a workload identity: %v", err)
	}
}

func TestAdminEndpointInjectsFaultsAndShowsState(t *testing.T) {
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"} })
	resp, err := f.http.Post(f.srv.URL+"/_emulator/faults", "application/json",
		strings.NewReader(`{"requests":[{"count":1,"status":503,"method":"GET"}],"operation":{"code":"Boom","message":"injected"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /_emulator/faults: %s", resp.Status)
	}
	poller, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	if err != nil {
		t.Fatal(err)
	}
	_, err = poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	if re := responseError(t, err); re.ErrorCode != "Boom" {
		t.Fatalf("operation error code %q, want Boom", re.ErrorCode)
	}
	for _, r := range f.srv.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/managedClusters/"+f.opts.ClusterName) {
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("first GET of the cluster after the fault = %+v, want 503", r)
			}
			break
		}
	}
	resp, err = f.http.Get(f.srv.URL + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	_, _ = io.Copy(&buf, resp.Body)
	if !strings.Contains(buf.String(), `"provisioningState":"Failed"`) || !strings.Contains(buf.String(), `"installed":["asm-1-28"]`) {
		t.Fatalf("state = %s", buf.String())
	}
}

// The dev cluster's .dev/azure.env, sourced by a shell, is enough for
// azidentity's environment credential and an ARM client.
func TestEnvFileIsEnoughForTheEnvironmentCredential(t *testing.T) {
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"} })
	path := filepath.Join(t.TempDir(), "azure.env")
	if err := f.conn.WriteEnvFile(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("azure.env: %v, mode %v; want 0600", err, st.Mode())
	}
	out, err := exec.Command("sh", "-c", `. "$1" && env`, "sh", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && (strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "MESHOPS_")) {
			env[k] = v
			t.Setenv(k, v)
		}
	}
	for _, k := range []string{"AZURE_SUBSCRIPTION_ID", "MESHOPS_AKS_RESOURCE_GROUP", "MESHOPS_AKS_CLUSTER", "MESHOPS_ARM_ENDPOINT",
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "MESHOPS_ARM_CA_FILE"} {
		if env[k] == "" {
			t.Errorf("azure.env does not export %s", k)
		}
	}
	transport := f.clientOptions(t).Transport
	cred, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: transport}, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := armcontainerservice.NewManagedClustersClient(env["AZURE_SUBSCRIPTION_ID"], cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: transport,
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: env["AZURE_AUTHORITY_HOST"], Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: env["MESHOPS_ARM_ENDPOINT"], Audience: "https://management.core.windows.net/"},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Get(context.Background(), env["MESHOPS_AKS_RESOURCE_GROUP"], env["MESHOPS_AKS_CLUSTER"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if revs := revisionsOf(got.ManagedCluster); !slices.Equal(revs, []string{"asm-1-28"}) {
		t.Fatalf("revisions = %v", revs)
	}
}

// A process that dies while it waits resumes the same operation from the
// poller's resume token: it polls to the end and PUTs nothing again.
func TestResumedPollerFinishesTheOperationWithoutASecondPut(t *testing.T) {
	mesh := &fakeMesh{gate: make(chan struct{})}
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.Mesh = mesh })
	poller, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	if err != nil {
		t.Fatal(err)
	}
	token, err := poller.ResumeToken()
	if err != nil {
		t.Fatal(err)
	}
	close(mesh.gate)

	// A new client, as after a restart.
	fresh, err := armclient.ManagedClusters(f.conn, shortRetries)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := fresh.BeginCreateOrUpdate(context.Background(), f.opts.ResourceGroup, f.opts.ClusterName,
		armcontainerservice.ManagedCluster{}, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{ResumeToken: token})
	if err != nil {
		t.Fatal(err)
	}
	res, err := resumed.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := revisionsOf(res.ManagedCluster); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) || provisioningState(res.ManagedCluster) != "Succeeded" {
		t.Fatalf("resumed result: %v %s", got, provisioningState(res.ManagedCluster))
	}
	var puts int
	for _, r := range f.srv.Requests() {
		if r.Method == http.MethodPut {
			puts++
		}
	}
	if puts != 1 {
		t.Fatalf("%d PUTs, want 1", puts)
	}
}

// When the cluster cannot install the revision, the operation fails with
// what went wrong, as an add-on whose istiod never becomes ready would.
func TestMeshFailureEndsTheOperationFailed(t *testing.T) {
	mesh := &fakeMesh{fail: errors.New("istiod asm-1-29 not ready after 1m0s")}
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"}; o.Mesh = mesh })
	poller, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	if err != nil {
		t.Fatal(err)
	}
	_, err = poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	if re := responseError(t, err); re.ErrorCode != "ServiceMeshInstallationFailed" || !strings.Contains(err.Error(), "not ready after 1m0s") {
		t.Fatalf("operation error: %v", err)
	}
	if got := f.srv.Installed(); !slices.Equal(got, []string{"asm-1-28"}) {
		t.Fatalf("installed after a failed install = %v", got)
	}
	// Rolling the canary back is how a client recovers.
	if got := revisionsOf(f.setRevisions(t, "asm-1-28")); !slices.Equal(got, []string{"asm-1-28"}) {
		t.Fatalf("after rollback: %v", got)
	}
}

// A refused role assignment answers 403 AuthorizationFailed naming the
// action, which the SDK does not retry.
func TestInjected403NamesTheActionARoleMustAllow(t *testing.T) {
	f := start(t, func(o *armemu.Options) { o.Installed = []string{"asm-1-28"} })
	f.srv.FailRequests(armemu.RequestFault{Count: 1, Status: http.StatusForbidden, Method: http.MethodPut})
	_, err := f.beginRevisions(t, "asm-1-28", "asm-1-29")
	re := responseError(t, err)
	if re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" || !strings.Contains(err.Error(), "Microsoft.ContainerService/managedClusters/write") {
		t.Fatalf("PUT with a 403 injected: %v", err)
	}
}

// Bad admin input changes nothing and says what is accepted.
func TestAdminEndpointRefusesUnknownFieldsAndBadDurations(t *testing.T) {
	f := start(t, nil)
	for _, body := range []string{`{"requsts":[{"count":1}]}`, `{"latency":{"canary":"soon"}}`, `{"latency":{"canry":"1s"}}`, `not json`} {
		resp, err := f.http.Post(f.srv.URL+"/_emulator/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "faults:") {
			t.Errorf("POST %s: %s %s, want 400 naming what is wrong", body, resp.Status, msg)
		}
	}
	// Nothing was queued: the next request is served.
	if st := provisioningState(f.get(t)); st != "Succeeded" {
		t.Fatalf("provisioningState = %s", st)
	}
}
