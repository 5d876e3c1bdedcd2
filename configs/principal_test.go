package configs

import (
	"strings"
	"testing"
)

func TestCheckPrincipal(t *testing.T) {
	tests := []struct {
		principal string
		wantErr   string // "" = accepted
	}{
		{"cluster.local/ns/aro-hcp/sa/frontend", ""},
		{"cluster.local/ns/clusters-service/sa/clusters-service", ""},
		{"example.com/ns/x/sa/my.sa", ""},
		{"*", ""},
		{"cluster.local/ns/x/sa/*", ""},
		{"cluster.local/ns/x/*", ""},
		{"cluster.local/*", ""},
		{"cluster.local/n*", ""},
		{"*/ns/x/sa/y", ""},
		{"*/sa/y", ""},
		{"*a/sa/y", ""},
		{"*-admin", ""},
		{"", "empty principal"},
		{"spiffe://cluster.local/ns/x/sa/y", "without the spiffe:// scheme"},
		{"ns/x/sa/y", "the trust domain is missing"},
		{"cluster.local/ns/x", "expected 5 segments, found 3"},
		{"cluster.local/ns/x/sa/y/z", "expected 5 segments, found 6"},
		{"cluster.local/namespace/x/sa/y", `expected "ns" as segment 2`},
		{"cluster.local/ns/x/serviceaccount/y", `expected "sa" as segment 4`},
		{"cluster.local/ns/X/sa/y", "the namespace X is not valid"},
		{"cluster.local/ns//sa/y", "the namespace is empty"},
		{"cluster.local/ns/x/sa/", "the service account is empty"},
		{"/ns/x/sa/y", "the trust domain is empty"},
		{"cluster local/ns/x/sa/y", "the trust domain cluster local has the character"},
		{"cluster.local/ns/*/sa/y", `accepts "*" only as the whole value`},
		{"**", `accepts "*" only as the whole value`},
		{"*cluster.local/ns/x/sa/y*", `accepts "*" only as the whole value`},
		{"cluster.local/ns/x/sa/y/*", "too many segments"},
		{"cluster.local/nx/*", `expected "ns" as segment 2`},
		{"*/nx/x/sa/y", `expected "ns" as segment 2`},
		{"*/ns/X/sa/y", "the namespace X is not valid"},
		{"cluster.local/ns/Ab*", "the namespace has the character A"},
	}
	for _, tt := range tests {
		got := checkPrincipal(tt.principal)
		if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
			t.Errorf("checkPrincipal(%q) = %q, want %q", tt.principal, got, tt.wantErr)
		}
	}
}

func TestCheckNamespaceRef(t *testing.T) {
	tests := []struct {
		ns      string
		wantErr string
	}{
		{"aks-istio-ingress", ""},
		{"*", ""},
		{"aro-*", ""},
		{"*-system", ""},
		{"", "empty"},
		{"Web", "not a valid namespace name"},
		{"a*b", `accepts "*" only`},
		{"*a*", `accepts "*" only`},
		{"ns/x", "not a valid namespace name"},
		{"web_*", "cannot hold the character _"},
	}
	for _, tt := range tests {
		got := checkNamespaceRef(tt.ns)
		if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
			t.Errorf("checkNamespaceRef(%q) = %q, want %q", tt.ns, got, tt.wantErr)
		}
	}
}
