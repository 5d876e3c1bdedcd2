package armemu

import (
	"fmt"
	"os"
	"strings"
)

// Connection is what a client needs to reach a running emulator: its URL
// (ARM endpoint and Entra ID authority host at once), the CA file it is
// served with, which cluster, and a client's credentials.
type Connection struct {
	URL            string `json:"url"`
	CAFile         string `json:"caFile"`
	TenantID       string `json:"tenantID"`
	SubscriptionID string `json:"subscriptionID"`
	ResourceGroup  string `json:"resourceGroup"`
	ClusterName    string `json:"clusterName"`
	Location       string `json:"location"`
	ClientID       string `json:"clientID"`
	ClientSecret   string `json:"clientSecret"`
}

// Connection describes this server with its first client.
func (s *Server) Connection() Connection {
	o := s.Options()
	c := Connection{URL: s.URL, CAFile: s.CAFile, TenantID: o.TenantID, SubscriptionID: o.SubscriptionID,
		ResourceGroup: o.ResourceGroup, ClusterName: o.ClusterName, Location: o.Location}
	if len(o.Clients) > 0 {
		c.ClientID, c.ClientSecret = o.Clients[0].ID, o.Clients[0].Secret
	}
	return c
}

// AuthorityHost is the Entra ID authority host of the emulator.
func (c Connection) AuthorityHost() string { return strings.TrimSuffix(c.URL, "/") + "/" }

// WriteEnvFile writes a shell file exporting what meshops' aks revision
// provider and azidentity's environment credential read, so that
// `source FILE; meshops sync ...` talks to the emulator. It holds a client
// secret (of the emulator only): mode 0600.
func (c Connection) WriteEnvFile(path string) error {
	var b strings.Builder
	b.WriteString("# Written by `make cluster-up MESH=aks`: how meshops reaches the local ARM emulator\n")
	b.WriteString("# (test/armemu, docs/aks-emulator.md). The secret is the emulator's own, valid nowhere else.\n")
	export := func(k, v string) { fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v)) }
	export("AZURE_SUBSCRIPTION_ID", c.SubscriptionID)
	export("MESHOPS_AKS_RESOURCE_GROUP", c.ResourceGroup)
	export("MESHOPS_AKS_CLUSTER", c.ClusterName)
	export("MESHOPS_ARM_ENDPOINT", c.URL)
	export("AZURE_TENANT_ID", c.TenantID)
	export("AZURE_CLIENT_ID", c.ClientID)
	export("AZURE_CLIENT_SECRET", c.ClientSecret)
	// azidentity reads it; it also needs DisableInstanceDiscovery, which no
	// variable sets: a client must set it when the authority is not Azure's.
	export("AZURE_AUTHORITY_HOST", c.AuthorityHost())
	// Added to the system's CAs by meshops' aks provider for ARM and Entra
	// ID. Not SSL_CERT_FILE: in this shell it would replace the system's
	// CA file for every program (git, curl) that reads it.
	b.WriteString("# The emulator's CA, which meshops adds to the system's for ARM and Entra ID.\n")
	export("MESHOPS_ARM_CA_FILE", c.CAFile)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// shellQuote single-quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
