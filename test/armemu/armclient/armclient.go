// Package armclient builds the real Azure SDK clients (azidentity and
// armcontainerservice/v6) pointed at a test/armemu emulator, and does what
// a revision provider does with them, for the dev cluster and the tests
// that drive the emulator. meshops' own provider builds its clients in
// revisions/aks; this is test code.
package armclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/meshops/meshops/test/armemu"
)

// ClientOptions point an SDK client at the emulator: its CA, its URL as
// the ARM endpoint and as the Entra ID authority host.
func ClientOptions(c armemu.Connection) (azcore.ClientOptions, error) {
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return azcore.ClientOptions{}, fmt.Errorf("the emulator's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return azcore.ClientOptions{}, fmt.Errorf("the emulator's CA %s holds no certificate", c.CAFile)
	}
	return azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: c.AuthorityHost(),
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: c.URL, Audience: "https://management.core.windows.net/"},
			},
		},
		Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
	}, nil
}

// ManagedClusters is a ManagedClustersClient authenticated with the
// connection's client secret. mutate, when not nil, may change the client
// options (retry delays, say).
func ManagedClusters(c armemu.Connection, mutate func(*azcore.ClientOptions)) (*armcontainerservice.ManagedClustersClient, error) {
	opts, err := ClientOptions(c)
	if err != nil {
		return nil, err
	}
	if mutate != nil {
		mutate(&opts)
	}
	cred, err := azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: opts,
		// The emulator has no instance discovery; without this MSAL asks
		// login.microsoftonline.com about the authority.
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, err
	}
	return armcontainerservice.NewManagedClustersClient(c.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: opts})
}

// BeginSetRevisions GETs the cluster, sets serviceMeshProfile to Istio
// with revs, and PUTs the whole cluster back, as a revision provider does.
func BeginSetRevisions(ctx context.Context, mc *armcontainerservice.ManagedClustersClient, c armemu.Connection, revs []string) (*runtime.Poller[armcontainerservice.ManagedClustersClientCreateOrUpdateResponse], error) {
	got, err := mc.Get(ctx, c.ResourceGroup, c.ClusterName, nil)
	if err != nil {
		return nil, err
	}
	cluster := got.ManagedCluster
	if cluster.Properties == nil {
		cluster.Properties = &armcontainerservice.ManagedClusterProperties{}
	}
	mode := armcontainerservice.ServiceMeshModeIstio
	ptrs := make([]*string, len(revs))
	for i := range revs {
		ptrs[i] = &revs[i]
	}
	cluster.Properties.ServiceMeshProfile = &armcontainerservice.ServiceMeshProfile{
		Mode: &mode, Istio: &armcontainerservice.IstioServiceMesh{Revisions: ptrs},
	}
	return mc.BeginCreateOrUpdate(ctx, c.ResourceGroup, c.ClusterName, cluster, nil)
}

// SetRevisions is BeginSetRevisions and the wait for its operation,
// polling every freq unless the emulator asks for another interval.
func SetRevisions(ctx context.Context, mc *armcontainerservice.ManagedClustersClient, c armemu.Connection, revs []string, freq time.Duration) (armcontainerservice.ManagedCluster, error) {
	poller, err := BeginSetRevisions(ctx, mc, c, revs)
	if err != nil {
		return armcontainerservice.ManagedCluster{}, err
	}
	res, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: freq})
	return res.ManagedCluster, err
}

// Revisions reads serviceMeshProfile.istio.revisions of a cluster.
func Revisions(mc armcontainerservice.ManagedCluster) []string {
	var out []string
	if p := mc.Properties; p != nil && p.ServiceMeshProfile != nil && p.ServiceMeshProfile.Istio != nil {
		for _, r := range p.ServiceMeshProfile.Istio.Revisions {
			if r != nil {
				out = append(out, *r)
			}
		}
	}
	return out
}
