package aks_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeARM serves the few ARM responses the provider reads, as ARM documents
// them, for one cluster: GET and PUT of the managed cluster (a PUT is a
// long-running operation followed through Azure-AsyncOperation), its mesh
// upgrade profiles, the location's mesh revision profiles, and an Entra ID
// token endpoint. It is deliberately small; the ARM emulator (test/armemu)
// models AKS's rules.
type fakeARM struct {
	t   *testing.T
	srv *httptest.Server
	ca  string // PEM file trusting srv

	mu           sync.Mutex
	cluster      map[string]any // the resource as GET returns it
	etag         int
	upgrades     map[string][]string // installed revision → upgrades
	catalog      []map[string]any    // meshRevisions of the location
	running      string              // id of the operation in progress
	hold         bool                // keep operations InProgress
	fail         *armErr             // the next operation ends Failed with it
	refuse       *armErr             // the next PUT is refused with it
	bumpETag     bool                // the cluster changes between GET and PUT
	forbid       string              // requests to paths ending so are 403
	puts         [][]byte            // bodies of accepted PUTs
	ifMatch      []string
	ops          map[string]string // id → status
	issuedTokens int
}

type armErr struct {
	status        int
	code, message string
}

const (
	sub      = "00000000-0000-0000-0000-000000000001"
	rg       = "hcp-underlay-dev-westus3-svc"
	name     = "dev-westus3-svc-1"
	tenant   = "00000000-0000-0000-0000-0000000000aa"
	token    = "fake-arm-token"
	location = "westus3"
)

func newFakeARM(t *testing.T, installed ...string) *fakeARM {
	f := &fakeARM{t: t, etag: 1, ops: map[string]string{}, upgrades: map[string][]string{}}
	mode := "Disabled"
	if len(installed) > 0 {
		mode = "Istio"
	}
	f.cluster = map[string]any{
		"id":   "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ContainerService/managedClusters/" + name,
		"name": name, "type": "Microsoft.ContainerService/ManagedClusters", "location": location,
		"tags": map[string]any{"clusterType": "svc-cluster"},
		"properties": map[string]any{
			"provisioningState": "Succeeded", "kubernetesVersion": "1.33", "currentKubernetesVersion": "1.33.2",
			"dnsPrefix": "dev-westus3", "enableRBAC": true,
			"agentPoolProfiles": []any{map[string]any{"name": "system", "count": 3, "vmSize": "Standard_D2s_v3", "mode": "System"}},
			"networkProfile":    map[string]any{"networkPlugin": "azure", "networkDataplane": "cilium"},
			"serviceMeshProfile": map[string]any{"mode": mode, "istio": map[string]any{
				"revisions":  installed,
				"components": map[string]any{"ingressGateways": []any{map[string]any{"mode": "External", "enabled": true}}},
			}},
		},
	}
	f.catalog = []map[string]any{
		rev("asm-1-27", []string{"asm-1-28", "asm-1-29"}, "1.31", "1.32", "1.33"),
		rev("asm-1-28", []string{"asm-1-29", "asm-1-30"}, "1.31", "1.32", "1.33", "1.34"),
		rev("asm-1-29", []string{"asm-1-30"}, "1.32", "1.33", "1.34"),
		rev("asm-1-30", nil, "1.34", "1.35"),
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func rev(name string, upgrades []string, kube ...string) map[string]any {
	return map[string]any{"revision": name, "upgrades": upgrades, "compatibleWith": []any{map[string]any{"name": "kubernetes", "versions": kube}}}
}

func (f *fakeARM) props() map[string]any { return f.cluster["properties"].(map[string]any) }

func (f *fakeARM) mesh() map[string]any { return f.props()["serviceMeshProfile"].(map[string]any) }

// installed returns the revisions the cluster has now.
func (f *fakeARM) installed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	switch revs := f.mesh()["istio"].(map[string]any)["revisions"].(type) {
	case []string:
		out = revs
	case []any:
		for _, r := range revs {
			out = append(out, r.(string))
		}
	}
	return out
}

func (f *fakeARM) set(fn func(f *fakeARM)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e armErr) {
	writeJSON(w, e.status, map[string]any{"error": map[string]any{"code": e.code, "message": e.message}})
}

func (f *fakeARM) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.URL.Path
	if strings.HasPrefix(p, "/"+tenant+"/") {
		f.serveIdentity(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+token {
		writeErr(w, armErr{http.StatusUnauthorized, "AuthenticationFailed", "no valid bearer token"})
		return
	}
	if f.forbid != "" && strings.HasSuffix(p, f.forbid) {
		writeErr(w, armErr{http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action over scope " + p})
		return
	}
	clusterPath := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ContainerService/managedClusters/" + name
	switch {
	case p == clusterPath && r.Method == http.MethodGet:
		f.cluster["eTag"] = fmt.Sprintf(`"%d"`, f.etag)
		writeJSON(w, http.StatusOK, f.cluster)
	case p == clusterPath && r.Method == http.MethodPut:
		f.put(w, r)
	case p == clusterPath+"/meshUpgradeProfiles" && r.Method == http.MethodGet:
		var value []any
		if f.mesh()["mode"] == "Istio" {
			for rev, ups := range f.upgrades {
				value = append(value, map[string]any{"name": "istio", "properties": map[string]any{"revision": rev, "upgrades": ups}})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": value})
	case p == "/subscriptions/"+sub+"/providers/Microsoft.ContainerService/locations/"+location+"/meshRevisionProfiles" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{map[string]any{"name": "istio", "properties": map[string]any{"meshRevisions": f.catalog}}}})
	case strings.HasPrefix(p, "/operations/") && r.Method == http.MethodGet:
		id := strings.TrimPrefix(p, "/operations/")
		status, ok := f.ops[id]
		if !ok {
			writeErr(w, armErr{http.StatusNotFound, "NotFound", "no operation " + id})
			return
		}
		if status == "InProgress" && !f.hold {
			f.finish(id)
			status = f.ops[id]
		}
		body := map[string]any{"status": status}
		if status == "Failed" {
			body["error"] = map[string]any{"code": f.fail.code, "message": f.fail.message}
			f.fail = nil
		}
		w.Header().Set("retry-after-ms", "1")
		writeJSON(w, http.StatusOK, body)
	default:
		writeErr(w, armErr{http.StatusNotFound, "NotFound", r.Method + " " + p + " is not served"})
	}
}

func (f *fakeARM) put(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, armErr{http.StatusBadRequest, "InvalidRequestContent", err.Error()})
		return
	}
	if f.running != "" {
		writeErr(w, armErr{http.StatusConflict, "OperationNotAllowed", "Operation is not allowed: Another operation (Updating) is in progress, please wait for it to finish before starting a new operation."})
		return
	}
	if f.bumpETag {
		f.etag++
	}
	if m := r.Header.Get("If-Match"); m != "" && m != fmt.Sprintf(`"%d"`, f.etag) {
		writeErr(w, armErr{http.StatusPreconditionFailed, "PreconditionFailed", "the eTag " + m + " does not match"})
		return
	}
	if f.refuse != nil {
		writeErr(w, *f.refuse)
		f.refuse = nil
		return
	}
	var mc map[string]any
	if err := json.Unmarshal(body, &mc); err != nil {
		writeErr(w, armErr{http.StatusBadRequest, "InvalidRequestContent", err.Error()})
		return
	}
	f.puts = append(f.puts, body)
	f.ifMatch = append(f.ifMatch, r.Header.Get("If-Match"))
	f.props()["serviceMeshProfile"] = mc["properties"].(map[string]any)["serviceMeshProfile"]
	f.props()["provisioningState"] = "Updating"
	f.etag++
	id := fmt.Sprintf("op-%d", len(f.puts))
	f.ops[id] = "InProgress"
	f.running = id
	w.Header().Set("Azure-AsyncOperation", f.srv.URL+"/operations/"+id)
	w.Header().Set("retry-after-ms", "1")
	writeJSON(w, http.StatusOK, f.cluster)
}

// finish ends the running operation, Failed when a failure is injected.
func (f *fakeARM) finish(id string) {
	status := "Succeeded"
	if f.fail != nil {
		status = "Failed"
	}
	f.ops[id] = status
	f.props()["provisioningState"] = status
	f.running = ""
}

func (f *fakeARM) serveIdentity(w http.ResponseWriter, r *http.Request) {
	base := f.srv.URL + "/" + tenant
	switch strings.TrimPrefix(r.URL.Path, "/"+tenant) {
	case "/v2.0/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "jwks_uri": base + "/discovery/v2.0/keys",
		})
	case "/oauth2/v2.0/token":
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != "s3cret" || r.PostForm.Get("grant_type") != "client_credentials" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "bad client credentials"})
			return
		}
		f.issuedTokens++
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": token})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found"})
	}
}
