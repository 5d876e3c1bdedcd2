package aks

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/meshops/meshops/mesh"
)

// Environment variables OptionsFromEnv reads. AZURE_SUBSCRIPTION_ID and
// AZURE_AUTHORITY_HOST are the Azure SDK's own names; the credential
// variables (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET,
// AZURE_FEDERATED_TOKEN_FILE, …) are read by azidentity itself.
const (
	EnvSubscriptionID = "AZURE_SUBSCRIPTION_ID"
	EnvResourceGroup  = "MESHOPS_AKS_RESOURCE_GROUP"
	EnvCluster        = "MESHOPS_AKS_CLUSTER"
	EnvARMEndpoint    = "MESHOPS_ARM_ENDPOINT"
	EnvARMAudience    = "MESHOPS_ARM_AUDIENCE"
	EnvAuthorityHost  = "AZURE_AUTHORITY_HOST"
	// EnvCAFile names a PEM file of extra CAs to trust for ARM and Entra
	// ID (a private endpoint, or the local ARM emulator). SSL_CERT_FILE
	// works too but replaces the system's CAs instead of adding to them.
	EnvCAFile = "MESHOPS_ARM_CA_FILE"
)

// Public cloud endpoints, the defaults.
const (
	DefaultARMEndpoint   = "https://management.azure.com"
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	publicARMAudience    = "https://management.core.windows.net/"
)

// knownClouds maps a sovereign cloud's ARM endpoint to its Entra ID
// authority host and token audience, so that setting the endpoint alone is
// enough.
var knownClouds = map[string]struct{ authority, audience string }{
	DefaultARMEndpoint:                     {DefaultAuthorityHost, publicARMAudience},
	"https://management.chinacloudapi.cn":  {"https://login.chinacloudapi.cn/", "https://management.core.chinacloudapi.cn"},
	"https://management.usgovcloudapi.net": {"https://login.microsoftonline.us/", "https://management.core.usgovcloudapi.net"},
}

// Defaults of the timing options.
const (
	// DefaultPollFrequency is how often a running operation is polled when
	// ARM does not say (Retry-After wins). An AKS mesh upgrade takes
	// minutes.
	DefaultPollFrequency = 10 * time.Second
	// DefaultOperationTimeout bounds the wait for one operation.
	DefaultOperationTimeout = 45 * time.Minute
	// DefaultRequestTimeout bounds one HTTP request (each retry anew).
	DefaultRequestTimeout = time.Minute
)

// Options say which cluster to manage and how to reach ARM.
type Options struct {
	// SubscriptionID, ResourceGroup and Cluster name the managed cluster.
	SubscriptionID string
	ResourceGroup  string
	Cluster        string

	// ARMEndpoint is ARM's base URL: sovereign clouds, private endpoints
	// and tests change it. Default https://management.azure.com.
	ARMEndpoint string
	// ARMAudience is the audience of ARM tokens. Default: the known
	// cloud's for ARMEndpoint, else ARMEndpoint itself.
	ARMAudience string
	// AuthorityHost is Entra ID's base URL. Default: the known cloud's for
	// ARMEndpoint, else the public cloud's. A host that is no known
	// cloud's (an emulator, a disconnected cloud) turns off MSAL's instance
	// discovery, which would ask login.microsoftonline.com about it.
	AuthorityHost string
	// Credential gets ARM tokens. Default: azidentity's
	// DefaultAzureCredential (workload identity in a pod, environment
	// credentials, managed identity, the Azure CLI).
	Credential azcore.TokenCredential
	// CAFile is a PEM file of CAs to trust in addition to the system's.
	CAFile string

	// PollFrequency is how often a running operation is polled when ARM
	// gives no Retry-After.
	PollFrequency time.Duration
	// OperationTimeout bounds Wait for one operation.
	OperationTimeout time.Duration
	// RequestTimeout bounds each HTTP request.
	RequestTimeout time.Duration

	// RevisionPattern parses revision names; default asm-<major>-<minor>.
	RevisionPattern mesh.RevisionPattern
}

// DefaultOptions returns options for the public cloud with the default
// credential and timings; the cluster is left to the caller.
func DefaultOptions() Options {
	return Options{
		ARMEndpoint:      DefaultARMEndpoint,
		PollFrequency:    DefaultPollFrequency,
		OperationTimeout: DefaultOperationTimeout,
		RequestTimeout:   DefaultRequestTimeout,
		RevisionPattern:  mesh.DefaultPattern(),
	}
}

// OptionsFromEnv returns base with every field whose environment variable
// is set replaced by it. Precedence is the caller's: meshops applies flags
// over the environment over meshops.yaml.
func OptionsFromEnv(base Options) Options {
	for _, f := range []struct {
		env string
		dst *string
	}{
		{EnvSubscriptionID, &base.SubscriptionID},
		{EnvResourceGroup, &base.ResourceGroup},
		{EnvCluster, &base.Cluster},
		{EnvARMEndpoint, &base.ARMEndpoint},
		{EnvARMAudience, &base.ARMAudience},
		{EnvAuthorityHost, &base.AuthorityHost},
		{EnvCAFile, &base.CAFile},
	} {
		if v := strings.TrimSpace(os.Getenv(f.env)); v != "" {
			*f.dst = v
		}
	}
	return base
}

// ClusterID is the cluster's ARM resource id.
func (o Options) ClusterID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s",
		o.SubscriptionID, o.ResourceGroup, o.Cluster)
}

// complete fills the defaults a zero field leaves and checks the rest.
func (o Options) complete() (Options, error) {
	var missing []string
	for _, f := range []struct{ name, val, env string }{
		{"subscription", o.SubscriptionID, EnvSubscriptionID},
		{"resource group", o.ResourceGroup, EnvResourceGroup},
		{"cluster", o.Cluster, EnvCluster},
	} {
		if f.val == "" {
			missing = append(missing, fmt.Sprintf("%s (%s or meshops.revisions.aks)", f.name, f.env))
		}
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("aks provider: no %s: say which cluster meshops manages", strings.Join(missing, ", no "))
	}
	d := DefaultOptions()
	if o.ARMEndpoint == "" {
		o.ARMEndpoint = d.ARMEndpoint
	}
	o.ARMEndpoint = strings.TrimRight(o.ARMEndpoint, "/")
	if !strings.HasPrefix(o.ARMEndpoint, "https://") {
		return o, fmt.Errorf("aks provider: ARM endpoint %q: use https (the SDK sends bearer tokens over https only)", o.ARMEndpoint)
	}
	known, isKnown := knownClouds[o.ARMEndpoint]
	if o.ARMAudience == "" {
		o.ARMAudience = o.ARMEndpoint
		if isKnown {
			o.ARMAudience = known.audience
		}
	}
	if o.AuthorityHost == "" {
		o.AuthorityHost = DefaultAuthorityHost
		if isKnown {
			o.AuthorityHost = known.authority
		}
	}
	if !strings.HasSuffix(o.AuthorityHost, "/") {
		o.AuthorityHost += "/"
	}
	if o.PollFrequency <= 0 {
		o.PollFrequency = d.PollFrequency
	}
	if o.OperationTimeout <= 0 {
		o.OperationTimeout = d.OperationTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.RevisionPattern.String() == "" {
		o.RevisionPattern = d.RevisionPattern
	}
	return o, nil
}

// customAuthority reports whether the authority host is no known cloud's,
// so that MSAL must not run instance discovery against the public cloud.
func (o Options) customAuthority() bool {
	for _, c := range knownClouds {
		if c.authority == o.AuthorityHost {
			return false
		}
	}
	return true
}

// httpClient is the transport for ARM and Entra ID: the system's CAs plus
// CAFile, and a bound on each request.
func (o Options) httpClient() (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("aks provider: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("aks provider: CA file %s holds no PEM certificate", o.CAFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: o.RequestTimeout}, nil
}
