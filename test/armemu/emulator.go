package armemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the ARM api-version armcontainerservice/v6 v6.6.0 sends
// for managedClusters and the mesh profiles (its "Generated from API
// version" comments).
const APIVersion = "2025-02-01"

// Mesh is the cluster whose control planes the emulated add-on really
// changes: test/controlplane.Cluster installs a revision (its objects and a
// real istiod) and removes one. Both return once the change is done, so an
// operation stays InProgress until then.
type Mesh interface {
	InstallRevision(ctx context.Context, rev string) error
	RemoveRevision(ctx context.Context, rev string) error
}

// Client is an Entra ID application the emulated token endpoint knows.
type Client struct {
	ID string
	// Secret is accepted in client-credentials requests; "" refuses them.
	Secret string
	// Assertion is the federated token (workload identity: the service
	// account token) accepted as client_assertion; "" refuses them.
	Assertion string
}

// Options configure an Emulator. Start from DefaultOptions.
type Options struct {
	TenantID       string
	SubscriptionID string
	ResourceGroup  string
	ClusterName    string
	Location       string
	// KubernetesVersion is the cluster's version; revisions list the
	// minors they support.
	KubernetesVersion string
	// Revisions is the location's catalog (meshRevisionProfiles).
	Revisions []Revision
	// Installed are the revisions running when the emulator starts (mesh
	// mode Istio); none means the mesh is disabled. The Mesh is assumed to
	// run them already.
	Installed []string
	// Clients may get tokens. DefaultOptions has one with a random secret.
	Clients []Client
	// Mesh is changed by operations; nil changes only the model.
	Mesh Mesh
	// Latency is how long an operation of each kind waits before it
	// changes the mesh (AKS takes minutes; tests want milliseconds).
	Latency map[Operation]time.Duration
	// PollInterval is the Retry-After the emulator asks pollers to wait.
	// Default 1s.
	PollInterval time.Duration
	// TokenLifetime is how long an issued access token is accepted.
	// Default 1h.
	TokenLifetime time.Duration
}

// DefaultOptions are one cluster in westus3 on Kubernetes 1.33 with the
// mesh disabled, the default revision catalog and one client.
func DefaultOptions() Options {
	return Options{
		TenantID:          "8a5c0e4e-7d2b-4f0a-9c3e-0e1111e1e111",
		SubscriptionID:    "2f6e8b1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b",
		ResourceGroup:     "hcp-underlay-dev-westus3-svc",
		ClusterName:       "dev-westus3-svc-1",
		Location:          "westus3",
		KubernetesVersion: DefaultKubernetesVersion,
		Revisions:         DefaultRevisions(),
		Clients:           []Client{{ID: "6d1f3c2a-5b4e-4a7d-9e8f-1a2b3c4d5e6f", Secret: randomString(24)}},
		PollInterval:      time.Second,
		TokenLifetime:     time.Hour,
	}
}

// Emulator is an http.Handler serving ARM's managedClusters mesh API for one
// cluster, the location's mesh revision profiles, its long-running
// operations, and the Entra ID token endpoint that issues the tokens it
// accepts. Safe for concurrent use.
type Emulator struct {
	opts Options
	cat  catalog

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	spec         meshSpec // what the resource says (the last accepted PUT)
	meshExtra    map[string]any
	installed    []string // what really runs
	provisioning string
	etag         int
	tags         map[string]any
	ops          map[string]*operation
	running      *operation
	tokens       map[string]time.Time
	latency      map[Operation]time.Duration
	faults       faults
	requests     []Request
}

// operation is one long-running operation: a PUT that changes the mesh.
type operation struct {
	ID     string
	Op     Operation
	Status string // InProgress, Succeeded, Failed, Canceled
	Start  time.Time
	End    time.Time
	Err    *armError
}

// New checks opts and returns an emulator. Close stops its operations.
func New(opts Options) (*Emulator, error) {
	d := DefaultOptions()
	for _, f := range []struct {
		v   *string
		def string
	}{{&opts.TenantID, d.TenantID}, {&opts.SubscriptionID, d.SubscriptionID}, {&opts.ResourceGroup, d.ResourceGroup},
		{&opts.ClusterName, d.ClusterName}, {&opts.Location, d.Location}, {&opts.KubernetesVersion, d.KubernetesVersion}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	if opts.Revisions == nil {
		opts.Revisions = d.Revisions
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = d.PollInterval
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = d.TokenLifetime
	}
	e := &Emulator{
		opts:         opts,
		cat:          newCatalog(opts.Revisions, opts.KubernetesVersion),
		provisioning: "Succeeded",
		etag:         1,
		ops:          map[string]*operation{},
		tokens:       map[string]time.Time{},
		latency:      map[Operation]time.Duration{},
	}
	for k, v := range opts.Latency {
		e.latency[k] = v
	}
	e.spec = meshSpec{Mode: ModeDisabled}
	if len(opts.Installed) > 0 {
		ch, aerr := planChange(e.cat, meshSpec{Mode: ModeDisabled}, meshSpec{Mode: ModeIstio, Revisions: opts.Installed[:1]})
		if aerr == nil && len(opts.Installed) == 2 {
			ch, aerr = planChange(e.cat, ch.Want, meshSpec{Mode: ModeIstio, Revisions: opts.Installed})
		}
		if aerr == nil && len(opts.Installed) > 2 {
			aerr = revisionsNotAllowed("at most two revisions")
		}
		if aerr != nil {
			return nil, fmt.Errorf("armemu: installed revisions %v: %s", opts.Installed, aerr.Message)
		}
		e.spec = ch.Want
		e.installed = slices.Clone(ch.Want.Revisions)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Options returns the options the emulator runs with, defaults filled in.
func (e *Emulator) Options() Options { return e.opts }

// Close cancels running operations (they end Canceled) and waits for them.
func (e *Emulator) Close() {
	e.cancel()
	e.wg.Wait()
}

// Installed returns the revisions that really run, oldest first.
func (e *Emulator) Installed() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.installed)
}

// SetLatency sets how long operations of kind op wait before they act.
func (e *Emulator) SetLatency(op Operation, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency[op] = d
}

// ServeHTTP routes to the admin endpoint, ARM or the token endpoint.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		e.serveAdmin(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w}
	// Logged in arrival order: a retry can finish before the request it
	// retries has returned from its handler.
	i := e.logRequest(r)
	defer func() { e.logStatus(i, rec) }()
	if !isARMPath(r.URL.Path) {
		e.serveIdentity(rec, r)
		return
	}
	f := e.takeFault(r)
	if f.drop {
		// Logged before the reset, which the client may retry at once.
		rec.dropped = true
		e.logStatus(i, rec)
		dropConnection(w)
		return
	}
	if aerr := e.authenticate(r); aerr != nil {
		rec.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="%s/%s", error="invalid_token", error_description="%s"`,
			baseURL(r), e.opts.TenantID, aerr.Message))
		writeError(rec, aerr)
		return
	}
	if f.status != 0 {
		writeError(rec, e.faultError(rec, r, f.status))
		return
	}
	e.serveARM(rec, r)
}

func isARMPath(p string) bool {
	return strings.HasPrefix(strings.ToLower(p), "/subscriptions/")
}

// serveARM routes an authenticated ARM request. ARM paths are
// case-insensitive.
func (e *Emulator) serveARM(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) < 2 || !strings.EqualFold(segs[1], e.opts.SubscriptionID) {
		sub := ""
		if len(segs) >= 2 {
			sub = segs[1]
		}
		writeError(w, &armError{Status: http.StatusNotFound, Code: "SubscriptionNotFound", Message: fmt.Sprintf("The subscription '%s' could not be found.", sub)})
		return
	}
	rest := segs[2:]
	match := func(pattern ...string) bool {
		if len(rest) != len(pattern) {
			return false
		}
		for i, p := range pattern {
			if p != "*" && !strings.EqualFold(rest[i], p) {
				return false
			}
		}
		return true
	}
	provider := []string{"providers", "Microsoft.ContainerService"}
	loc := append(slices.Clone(provider), "locations", "*")
	cluster := []string{"resourceGroups", "*", "providers", "Microsoft.ContainerService", "managedClusters", "*"}
	switch {
	case match(append(slices.Clone(loc), "operations", "*")...):
		e.get(w, r, func() { e.serveOperation(w, r, rest[3], rest[5]) })
	case match(append(slices.Clone(loc), "meshRevisionProfiles")...):
		e.get(w, r, func() { e.serveRevisionProfiles(w, r, rest[3], "") })
	case match(append(slices.Clone(loc), "meshRevisionProfiles", "*")...):
		e.get(w, r, func() { e.serveRevisionProfiles(w, r, rest[3], rest[5]) })
	case len(rest) >= len(cluster) && match(append(slices.Clone(cluster), rest[len(cluster):]...)...):
		if aerr := e.checkCluster(rest[1], rest[5]); aerr != nil {
			writeError(w, aerr)
			return
		}
		tail := rest[len(cluster):]
		switch {
		case len(tail) == 0 && r.Method == http.MethodGet:
			e.get(w, r, func() { e.serveCluster(w, r) })
		case len(tail) == 0 && r.Method == http.MethodPut:
			if aerr := checkAPIVersion(r, e.opts.Location); aerr != nil {
				writeError(w, aerr)
				return
			}
			e.putCluster(w, r)
		case len(tail) == 0:
			writeError(w, &armError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: fmt.Sprintf("The emulator does not serve %s on a managed cluster.", r.Method)})
		case len(tail) == 1 && strings.EqualFold(tail[0], "meshUpgradeProfiles"):
			e.get(w, r, func() { e.serveUpgradeProfiles(w, r, "") })
		case len(tail) == 2 && strings.EqualFold(tail[0], "meshUpgradeProfiles"):
			e.get(w, r, func() { e.serveUpgradeProfiles(w, r, tail[1]) })
		default:
			writeError(w, notEmulated(r))
		}
	default:
		writeError(w, notEmulated(r))
	}
}

func notEmulated(r *http.Request) *armError {
	return &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("The emulator does not serve %s %s.", r.Method, r.URL.Path)}
}

// get runs serve for a GET with a supported api-version.
func (e *Emulator) get(w http.ResponseWriter, r *http.Request, serve func()) {
	if r.Method != http.MethodGet {
		writeError(w, &armError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: fmt.Sprintf("The emulator does not serve %s on %s.", r.Method, r.URL.Path)})
		return
	}
	if aerr := checkAPIVersion(r, e.opts.Location); aerr != nil {
		writeError(w, aerr)
		return
	}
	serve()
}

// checkAPIVersion answers as ARM does when api-version is missing or not
// one the resource provider registered.
func checkAPIVersion(r *http.Request, location string) *armError {
	v := r.URL.Query().Get("api-version")
	switch v {
	case APIVersion:
		return nil
	case "":
		return &armError{Status: http.StatusBadRequest, Code: "MissingApiVersionParameter", Message: "The api-version query parameter (?api-version=) is required for all requests."}
	}
	return &armError{Status: http.StatusBadRequest, Code: "NoRegisteredProviderFound",
		Message: fmt.Sprintf("No registered resource provider found for location '%s' and API version '%s' for type 'managedClusters'. The supported api-versions are '%s'.", location, v, APIVersion)}
}

func (e *Emulator) checkCluster(rg, name string) *armError {
	if !strings.EqualFold(rg, e.opts.ResourceGroup) {
		return &armError{Status: http.StatusNotFound, Code: "ResourceGroupNotFound", Message: fmt.Sprintf("Resource group '%s' could not be found.", rg)}
	}
	if !strings.EqualFold(name, e.opts.ClusterName) {
		return &armError{Status: http.StatusNotFound, Code: "ResourceNotFound",
			Message: fmt.Sprintf("The Resource 'Microsoft.ContainerService/managedClusters/%s' under resource group '%s' was not found. (The emulator serves one cluster and creates none.)", name, rg)}
	}
	return nil
}

func (e *Emulator) clusterID() string {
	return fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s",
		e.opts.SubscriptionID, e.opts.ResourceGroup, e.opts.ClusterName)
}

func (e *Emulator) serveCluster(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	body := e.resourceLocked()
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// resourceLocked renders the managed cluster as ARM returns it.
func (e *Emulator) resourceLocked() map[string]any {
	o := e.opts
	smp := map[string]any{}
	for k, v := range e.meshExtra {
		smp[k] = v
	}
	smp["mode"] = e.spec.Mode
	if e.spec.Mode == ModeIstio {
		istio, _ := smp["istio"].(map[string]any)
		cp := map[string]any{}
		for k, v := range istio {
			cp[k] = v
		}
		cp["revisions"] = slices.Clone(e.spec.Revisions)
		smp["istio"] = cp
	} else {
		delete(smp, "istio")
	}
	tags := e.tags
	if tags == nil {
		tags = map[string]any{}
	}
	return map[string]any{
		"id":       e.clusterID(),
		"name":     o.ClusterName,
		"type":     "Microsoft.ContainerService/ManagedClusters",
		"location": o.Location,
		"tags":     tags,
		"eTag":     e.etagLocked(),
		"sku":      map[string]any{"name": "Base", "tier": "Standard"},
		"identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{
			"provisioningState":        e.provisioning,
			"powerState":               map[string]any{"code": "Running"},
			"kubernetesVersion":        o.KubernetesVersion,
			"currentKubernetesVersion": o.KubernetesVersion,
			"dnsPrefix":                o.ClusterName + "-dns",
			"fqdn":                     o.ClusterName + "-dns-emulated.hcp." + o.Location + ".azmk8s.io",
			"nodeResourceGroup":        "MC_" + o.ResourceGroup + "_" + o.ClusterName + "_" + o.Location,
			"enableRBAC":               true,
			"agentPoolProfiles": []any{map[string]any{
				"name": "system", "count": 1, "vmSize": "Standard_D4s_v5", "mode": "System",
				"osType": "Linux", "type": "VirtualMachineScaleSets", "provisioningState": e.provisioning,
			}},
			"serviceMeshProfile": smp,
		},
	}
}

func (e *Emulator) etagLocked() string { return fmt.Sprintf(`"%08x-emulated"`, e.etag) }

// maxBody bounds what a PUT may send: a managed cluster is a few KiB.
const maxBody = 1 << 20

// putCluster validates a PUT, starts its operation and answers with the
// resource in provisioningState Updating and the operation's URL.
func (e *Emulator) putCluster(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, &armError{Status: http.StatusBadRequest, Code: "InvalidRequestContent", Message: "The request content could not be read: " + err.Error()})
		return
	}
	req, extra, body, aerr := parseClusterBody(raw)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running != nil {
		// AKS refuses any change while an operation runs on the cluster:
		// 409 OperationNotAllowed, "Another operation (...) is in progress"
		// (https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/operationnotallowed).
		writeError(w, &armError{Status: http.StatusConflict, Code: "OperationNotAllowed",
			Message: fmt.Sprintf("Operation is not allowed: Another operation (Updating, %s of the service mesh) is in progress, please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details", e.running.Op)})
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != e.etagLocked() {
		writeError(w, &armError{Status: http.StatusPreconditionFailed, Code: "PreconditionFailed", Message: fmt.Sprintf("Operation failed: the eTag %s does not match the resource's %s.", m, e.etagLocked())})
		return
	}
	if !strings.EqualFold(strings.ReplaceAll(body.Location, " ", ""), e.opts.Location) {
		writeError(w, &armError{Status: http.StatusBadRequest, Code: "InvalidResourceLocation",
			Message: fmt.Sprintf("The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'.", e.opts.ClusterName, e.opts.Location, e.opts.ResourceGroup, body.Location)})
		return
	}
	if v := body.KubernetesVersion; v != "" && v != e.opts.KubernetesVersion {
		writeError(w, &armError{Status: http.StatusBadRequest, Code: "BadRequest",
			Message: fmt.Sprintf("properties.kubernetesVersion %s differs from the cluster's %s: the emulator upgrades no Kubernetes version; send the version the cluster has.", v, e.opts.KubernetesVersion)})
		return
	}
	if req == nil {
		// No serviceMeshProfile: the mesh stays as it is.
		req = &e.spec
	}
	ch, aerr := planChange(e.cat, e.spec, *req)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	op := &operation{ID: newOperationID(), Op: ch.Op, Status: "InProgress", Start: time.Now().UTC()}
	e.ops[op.ID] = op
	e.running = op
	e.spec = ch.Want
	if extra != nil {
		e.meshExtra = extra
	}
	if body.Tags != nil {
		e.tags = body.Tags
	}
	e.etag++
	e.provisioning = "Updating"
	fail, latency := e.faults.takeOperation(), e.latency[ch.Op]
	e.wg.Add(1)
	go e.run(op, ch.Want, latency, fail)

	w.Header().Set("Azure-AsyncOperation", e.operationURL(r, op.ID))
	e.setRetryAfter(w)
	writeJSON(w, http.StatusOK, e.resourceLocked())
}

// clusterBody is what the emulator reads of a PUT's ManagedCluster.
type clusterBody struct {
	Location          string
	Tags              map[string]any
	KubernetesVersion string
}

// parseClusterBody reads the SDK's ManagedCluster JSON: location, tags,
// kubernetesVersion and serviceMeshProfile (nil when absent); extra is the
// rest of serviceMeshProfile (certificate authority, components), kept.
func parseClusterBody(raw []byte) (req *meshSpec, extra map[string]any, body clusterBody, aerr *armError) {
	invalid := func(format string, args ...any) *armError {
		return &armError{Status: http.StatusBadRequest, Code: "InvalidRequestContent",
			Message: "The request content was invalid and could not be deserialized: " + fmt.Sprintf(format, args...)}
	}
	var doc struct {
		Location   string         `json:"location"`
		Tags       map[string]any `json:"tags"`
		Properties *struct {
			KubernetesVersion  string         `json:"kubernetesVersion"`
			ServiceMeshProfile map[string]any `json:"serviceMeshProfile"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, body, invalid("%v", err)
	}
	if doc.Location == "" {
		return nil, nil, body, &armError{Status: http.StatusBadRequest, Code: "LocationRequired", Message: "The location property is required for this definition."}
	}
	body = clusterBody{Location: doc.Location, Tags: doc.Tags}
	if doc.Properties == nil || doc.Properties.ServiceMeshProfile == nil {
		if doc.Properties != nil {
			body.KubernetesVersion = doc.Properties.KubernetesVersion
		}
		return nil, nil, body, nil
	}
	body.KubernetesVersion = doc.Properties.KubernetesVersion
	smp := doc.Properties.ServiceMeshProfile
	mode, ok := smp["mode"].(string)
	if !ok {
		return nil, nil, body, &armError{Status: http.StatusBadRequest, Code: "InvalidParameter", Message: "The value of parameter serviceMeshProfile.mode is required (Istio or Disabled)."}
	}
	spec := &meshSpec{Mode: mode}
	extra = map[string]any{}
	for k, v := range smp {
		if k != "mode" {
			extra[k] = v
		}
	}
	if istio, ok := smp["istio"].(map[string]any); ok {
		if revs, ok := istio["revisions"]; ok && revs != nil {
			list, ok := revs.([]any)
			if !ok {
				return nil, nil, body, invalid("serviceMeshProfile.istio.revisions is not a list of strings")
			}
			for i, v := range list {
				s, ok := v.(string)
				if !ok {
					return nil, nil, body, invalid("serviceMeshProfile.istio.revisions[%d] is not a string", i)
				}
				spec.Revisions = append(spec.Revisions, s)
			}
		}
	}
	return spec, extra, body, nil
}

// run carries out an accepted change: waits its latency, then installs
// what is new and removes what is gone, installing first so a canary never
// leaves the cluster without a control plane.
func (e *Emulator) run(op *operation, want meshSpec, latency time.Duration, fail *armError) {
	defer e.wg.Done()
	if latency > 0 {
		select {
		case <-e.ctx.Done():
			e.finish(op, "Canceled", &armError{Code: "OperationCanceled", Message: "The emulator stopped before the operation finished."})
			return
		case <-time.After(latency):
		}
	}
	if fail != nil {
		e.finish(op, "Failed", fail)
		return
	}
	e.mu.Lock()
	have := slices.Clone(e.installed)
	e.mu.Unlock()
	for _, rev := range want.Revisions {
		if slices.Contains(have, rev) {
			continue
		}
		if e.opts.Mesh != nil {
			if err := e.opts.Mesh.InstallRevision(e.ctx, rev); err != nil {
				e.finish(op, "Failed", &armError{Code: "ServiceMeshInstallationFailed", Message: fmt.Sprintf("Installing service mesh revision %s failed: %v", rev, err)})
				return
			}
		}
		e.mu.Lock()
		e.installed = e.cat.sorted(append(e.installed, rev))
		e.mu.Unlock()
	}
	for _, rev := range have {
		if slices.Contains(want.Revisions, rev) {
			continue
		}
		if e.opts.Mesh != nil {
			if err := e.opts.Mesh.RemoveRevision(e.ctx, rev); err != nil {
				e.finish(op, "Failed", &armError{Code: "ServiceMeshRemovalFailed", Message: fmt.Sprintf("Removing service mesh revision %s failed: %v", rev, err)})
				return
			}
		}
		e.mu.Lock()
		e.installed = slices.DeleteFunc(e.installed, func(s string) bool { return s == rev })
		e.mu.Unlock()
	}
	e.finish(op, "Succeeded", nil)
}

func (e *Emulator) finish(op *operation, status string, err *armError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	op.Status, op.End, op.Err = status, time.Now().UTC(), err
	if e.running == op {
		e.running = nil
	}
	switch status {
	case "Succeeded":
		e.provisioning = "Succeeded"
	case "Canceled":
		e.provisioning = "Canceled"
	default:
		e.provisioning = "Failed"
	}
}

func (e *Emulator) operationPath(id string) string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.ContainerService/locations/%s/operations/%s",
		e.opts.SubscriptionID, e.opts.Location, id)
}

func (e *Emulator) operationURL(r *http.Request, id string) string {
	return baseURL(r) + e.operationPath(id) + "?api-version=" + APIVersion
}

// setRetryAfter tells pollers how long to wait: Retry-After in whole
// seconds as ARM sends it, and retry-after-ms (which azcore prefers) so
// sub-second test intervals work.
func (e *Emulator) setRetryAfter(w http.ResponseWriter) {
	d := e.opts.PollInterval
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	w.Header().Set("retry-after-ms", strconv.FormatInt(d.Milliseconds(), 10))
}

// serveOperation answers the Azure-AsyncOperation URL with the operation's
// status body.
func (e *Emulator) serveOperation(w http.ResponseWriter, _ *http.Request, location, id string) {
	e.mu.Lock()
	op, ok := e.ops[id]
	var st map[string]any
	if ok {
		st = map[string]any{
			"id":        e.operationPath(op.ID),
			"name":      op.ID,
			"status":    op.Status,
			"startTime": op.Start.Format(time.RFC3339Nano),
		}
		if !op.End.IsZero() {
			st["endTime"] = op.End.Format(time.RFC3339Nano)
		}
		if op.Err != nil {
			st["error"] = map[string]any{"code": op.Err.Code, "message": op.Err.Message}
		}
	}
	e.mu.Unlock()
	if !ok || !strings.EqualFold(location, e.opts.Location) {
		writeError(w, &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("Operation %s was not found in %s.", id, location)})
		return
	}
	if st["status"] == "InProgress" {
		e.setRetryAfter(w)
	}
	writeJSON(w, http.StatusOK, st)
}

// compatibleWith renders a revision's Kubernetes versions as ARM's
// CompatibleVersions list.
func compatibleWith(r Revision) []any {
	return []any{map[string]any{"name": "kubernetes", "versions": slices.Clone(r.KubernetesVersions)}}
}

// serveRevisionProfiles answers the location's meshRevisionProfiles: every
// revision of the catalog, compatible or not, as the region offers it.
func (e *Emulator) serveRevisionProfiles(w http.ResponseWriter, _ *http.Request, location, mode string) {
	if !strings.EqualFold(location, e.opts.Location) {
		writeError(w, &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("The emulator serves location %s, not %s.", e.opts.Location, location)})
		return
	}
	var revs []any
	for _, r := range e.opts.Revisions {
		revs = append(revs, map[string]any{"revision": r.Name, "upgrades": nonNil(r.Upgrades), "compatibleWith": compatibleWith(r)})
	}
	profile := map[string]any{
		"id":         fmt.Sprintf("/subscriptions/%s/providers/Microsoft.ContainerService/locations/%s/meshRevisionProfiles/istio", e.opts.SubscriptionID, e.opts.Location),
		"name":       "istio",
		"type":       "Microsoft.ContainerService/locations/meshRevisionProfiles",
		"properties": map[string]any{"meshRevisions": revs},
	}
	switch {
	case mode == "":
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{profile}})
	case strings.EqualFold(mode, "istio"):
		writeJSON(w, http.StatusOK, profile)
	default:
		writeError(w, &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("Mesh mode %s has no revision profile; the only mode is istio.", mode)})
	}
}

// serveUpgradeProfiles answers the cluster's meshUpgradeProfiles: for the
// installed (during a canary: the older, stable) revision, the upgrades
// available on the cluster's Kubernetes version. With the mesh disabled
// the list is empty and the istio profile is not found.
func (e *Emulator) serveUpgradeProfiles(w http.ResponseWriter, _ *http.Request, mode string) {
	e.mu.Lock()
	spec := e.spec
	e.mu.Unlock()
	var profiles []any
	if spec.Mode == ModeIstio && len(spec.Revisions) > 0 {
		cur := spec.Revisions[0]
		rev, _ := e.cat.lookup(cur)
		profiles = append(profiles, map[string]any{
			"id":   e.clusterID() + "/meshUpgradeProfiles/istio",
			"name": "istio",
			"type": "Microsoft.ContainerService/managedClusters/meshUpgradeProfiles",
			"properties": map[string]any{
				"revision":       cur,
				"upgrades":       nonNil(e.cat.upgrades(cur)),
				"compatibleWith": compatibleWith(rev),
			},
		})
	}
	switch {
	case mode == "":
		writeJSON(w, http.StatusOK, map[string]any{"value": nonNil(profiles)})
	case strings.EqualFold(mode, "istio") && len(profiles) == 1:
		writeJSON(w, http.StatusOK, profiles[0])
	default:
		writeError(w, &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("Mesh upgrade profile %s not found: the service mesh is not enabled on the cluster.", mode)})
	}
}

// nonNil makes an empty list render as [] rather than null, as ARM does.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *armError) {
	// ARM names the code in a header too; azcore reads it first.
	w.Header().Set("x-ms-error-code", e.Code)
	writeJSON(w, e.Status, map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
}

func baseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func newOperationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
