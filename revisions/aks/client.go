package aks

import (
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

// meshMode is the mesh the upgrade and revision profiles are asked about.
const meshMode = "istio"

// Client observes and sets the mesh revisions of one managed cluster.
type Client struct {
	opts     Options
	id       string
	clusters *armcontainerservice.ManagedClustersClient
}

// New builds a client for the cluster opts names. It makes no request: a
// missing credential or permission shows on the first call.
func New(opts Options) (*Client, error) {
	o, err := opts.complete()
	if err != nil {
		return nil, err
	}
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	cfg := cloud.Configuration{
		ActiveDirectoryAuthorityHost: o.AuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: o.ARMEndpoint, Audience: o.ARMAudience},
		},
	}
	co := azcore.ClientOptions{Cloud: cfg, Transport: hc}
	cred := o.Credential
	if cred == nil {
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: co,
			// MSAL asks the public cloud whether an authority it does not
			// know is valid; an emulator or disconnected cloud has no
			// answer there.
			DisableInstanceDiscovery: o.customAuthority(),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: azure credential: %w", o.ClusterID(), err)
		}
	}
	clusters, err := armcontainerservice.NewManagedClustersClient(o.SubscriptionID, cred, &arm.ClientOptions{
		ClientOptions: co,
		// Registering resource providers needs rights meshops has no
		// business holding; Microsoft.ContainerService is registered
		// wherever an AKS cluster exists.
		DisableRPRegistration: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: ARM client: %w", o.ClusterID(), err)
	}
	return &Client{opts: o, id: o.ClusterID(), clusters: clusters}, nil
}

// ID is the cluster's ARM resource id; errors and State carry it.
func (c *Client) ID() string { return c.id }

// Options are the options in use, defaults filled in.
func (c *Client) Options() Options { return c.opts }

// describe shortens an SDK error to ARM's code and message, naming the
// permission when ARM refused it (403); the SDK's error stays underneath
// for errors.As.
func describe(err error, action string) error {
	status, code, msg, ok := armError(err)
	if !ok {
		return err
	}
	if status == http.StatusForbidden && action != "" {
		msg += " (the identity needs " + action + "; see docs/revisions.md)"
	}
	return &shortError{text: code + ": " + msg, err: err}
}

// shortError prints ARM's code and message but unwraps to the SDK's error.
type shortError struct {
	text string
	err  error
}

func (e *shortError) Error() string { return e.text }
func (e *shortError) Unwrap() error { return e.err }

// The actions each call needs, for the hint on a 403.
const (
	actionRead             = "Microsoft.ContainerService/managedClusters/read"
	actionWrite            = "Microsoft.ContainerService/managedClusters/write"
	actionUpgradeProfiles  = "Microsoft.ContainerService/managedClusters/meshUpgradeProfiles/read"
	actionRevisionProfiles = "Microsoft.ContainerService/locations/meshRevisionProfiles/read at subscription scope"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
