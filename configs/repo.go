package configs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshops/meshops/mesh"
)

// DefaultSettingsFile is the name of the optional settings file at the root
// of a config repo.
const DefaultSettingsFile = "meshops.yaml"

// Settings is meshops.yaml: where the values and manifests are, which
// cluster this is, and meshops' own settings (the meshops: section). Every
// field can be overridden by the caller through Options.
type Settings struct {
	// Values are the values files, relative to the repo root, merged in
	// order: later files (overlays) override earlier ones key by key.
	// meshops.yaml writes one file as a string or several as a list.
	Values []string `json:"values"`
	// Manifests is the folder holding the manifests, relative to the repo root.
	Manifests string `json:"manifests"`
	// Context is the cluster the values are resolved for (cloud,
	// environment, region, regionShort, stamp at the top of meshops.yaml).
	Context
	// Extensions are meshops' own settings, under meshops: in meshops.yaml.
	Extensions Extensions `json:"meshops"`
}

// Extensions are the settings meshops adds to what ARO HCP's values hold.
// They live in meshops.yaml because they configure the tool, not the
// service; svc.istio keeps only the keys ARO HCP already has.
type Extensions struct {
	// IstioSystemNamespace is where the control plane runs and where the
	// per-revision mesh ConfigMaps live.
	IstioSystemNamespace string `json:"istioSystemNamespace"`
	// IngressGatewayNamespace runs the ingress gateway.
	IngressGatewayNamespace string `json:"ingressGatewayNamespace"`
	// IngressGatewayService is the shared gateway's LoadBalancer Service,
	// annotated with the public IP's name and resource group.
	IngressGatewayService string `json:"ingressGatewayService"`
	// RevisionPattern is how revision names are written; see mesh.ParseRevisionPattern.
	RevisionPattern string `json:"revisionPattern"`
	// Namespaces are labelled istio.io/rev=<tag> to join the mesh.
	Namespaces []string `json:"namespaces,omitempty"`
	// Restart is how workloads are restarted onto the target revision.
	Restart Restart `json:"restart"`
	// AutoRollback returns the tag and the moved workloads to the previous
	// revision when a restart fails.
	AutoRollback bool `json:"autoRollback"`
	// DefaultDenyExemptions are namespaces allowed to lack a default-deny
	// AuthorizationPolicy, each with the reason why.
	DefaultDenyExemptions []Exemption `json:"defaultDenyExemptions,omitempty"`
	// PostureExemptions let named objects break a posture rule of
	// validate.go (a mesh-wide ALLOW-all, or mTLS DISABLE or PERMISSIVE, in
	// the root namespace), each with the reason why.
	PostureExemptions []PostureExemption `json:"postureExemptions,omitempty"`
	// CreateNamespaces lets meshops create the namespaces the manifests and
	// Namespaces name when they do not exist; off, their absence blocks
	// the plan with one message.
	CreateNamespaces bool `json:"createNamespaces,omitempty"`
	// MinReadyIstiod is how many istiod replicas of the target revision must
	// be ready before the tag moves or any workload restarts.
	MinReadyIstiod int `json:"minReadyIstiod"`
	// Revisions says who installs the control-plane revisions.
	Revisions Revisions `json:"revisions"`
}

// Restart is the workload restart policy.
type Restart struct {
	// BatchSize is the most workloads that restart at once, whatever
	// MaxUnavailable and the window allow.
	BatchSize int `json:"batchSize"`
	// MaxUnavailable bounds the pods the restarts have unavailable at
	// once, each workload counted by its own strategy (apply's podsOut):
	// a number of pods, or a percentage
	// ("25%") of the mesh's pods (every pod of the workloads on the tag
	// when the plan was made: those the rollout restarts and those
	// already on the target), rounded down, at least one pod. A workload
	// bigger than the whole budget restarts when nothing else does.
	MaxUnavailable intstr.IntOrString `json:"maxUnavailable"`
	// InitialBatch is how many workloads restart at once at the start;
	// each rollout that completes healthy doubles the window, up to
	// BatchSize, and a failure that lets the rollout go on halves it.
	InitialBatch int `json:"initialBatch"`
	// WorkloadTimeout bounds the wait for one workload's rollout.
	WorkloadTimeout time.Duration `json:"workloadTimeout"`
	// Timeout bounds all restarts of one rollout.
	Timeout time.Duration `json:"timeout"`
	// NamespaceOrder lists namespaces to restart first, in this order; the
	// others follow in alphabetical order.
	NamespaceOrder []string `json:"namespaceOrder,omitempty"`
	// DeleteBarePods allows deleting pods that no controller owns (they do
	// not come back); when false they are only reported.
	DeleteBarePods bool `json:"deleteBarePods"`
}

// restartJSON is Restart with durations as text ("5m0s"), as meshops.yaml
// writes them, rather than the nanoseconds encoding/json uses.
type restartJSON struct {
	BatchSize       int                `json:"batchSize"`
	MaxUnavailable  intstr.IntOrString `json:"maxUnavailable"`
	InitialBatch    int                `json:"initialBatch"`
	WorkloadTimeout string             `json:"workloadTimeout"`
	Timeout         string             `json:"timeout"`
	NamespaceOrder  []string           `json:"namespaceOrder,omitempty"`
	DeleteBarePods  bool               `json:"deleteBarePods"`
}

// MarshalJSON writes the durations as text, e.g. "5m0s".
func (r Restart) MarshalJSON() ([]byte, error) {
	return json.Marshal(restartJSON{
		BatchSize: r.BatchSize, MaxUnavailable: r.MaxUnavailable, InitialBatch: r.InitialBatch,
		WorkloadTimeout: r.WorkloadTimeout.String(), Timeout: r.Timeout.String(),
		NamespaceOrder: r.NamespaceOrder, DeleteBarePods: r.DeleteBarePods,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Restart) UnmarshalJSON(b []byte) error {
	var j restartJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Restart{BatchSize: j.BatchSize, MaxUnavailable: j.MaxUnavailable, InitialBatch: j.InitialBatch, NamespaceOrder: j.NamespaceOrder, DeleteBarePods: j.DeleteBarePods}
	var err error
	if j.WorkloadTimeout != "" {
		if out.WorkloadTimeout, err = time.ParseDuration(j.WorkloadTimeout); err != nil {
			return fmt.Errorf("restart.workloadTimeout: %w", err)
		}
	}
	if j.Timeout != "" {
		if out.Timeout, err = time.ParseDuration(j.Timeout); err != nil {
			return fmt.Errorf("restart.timeout: %w", err)
		}
	}
	*r = out
	return nil
}

// CheckMaxUnavailable says what is wrong with a restart.maxUnavailable,
// "" when nothing: a number of pods of at least 1, or a percentage from 1%
// to 100%.
func CheckMaxUnavailable(v intstr.IntOrString) string {
	if v.Type == intstr.Int {
		if v.IntVal < 1 {
			return fmt.Sprintf("expected at least 1 pod, got %d", v.IntVal)
		}
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if !strings.HasSuffix(v.StrVal, "%") || err != nil {
		return fmt.Sprintf("expected a number of pods or a percentage such as \"25%%\", got %q", v.StrVal)
	}
	if n < 1 || n > 100 {
		return fmt.Sprintf("expected a percentage from 1%% to 100%%, got %q", v.StrVal)
	}
	return ""
}

// Exemption lets one namespace go without a default-deny policy.
type Exemption struct {
	Namespace string `json:"namespace"`
	Reason    string `json:"reason"`
}

// PostureExemption lets one object break a posture rule.
type PostureExemption struct {
	// Object is the object's Kind/namespace/name, as meshops' messages
	// write it, e.g. PeerAuthentication/aks-istio-system/default.
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// Defaults of the settings; the table in README.md lists the same values.
const (
	DefaultValuesFile              = "config/config.yaml"
	DefaultManifestsDir            = "mesh"
	DefaultIstioSystemNamespace    = mesh.AKSIstioNamespace
	DefaultIngressGatewayNamespace = "aks-istio-ingress"
	DefaultIngressGatewayService   = "aks-istio-ingressgateway-external"
	// DefaultRestartBatchSize is the hard cap of workloads rolling at
	// once. Each still waits for its own availability and
	// PodDisruptionBudget, and the first failure stops new restarts (the
	// rest roll back), so the cap bounds the load on the API server and
	// the controllers and the surge capacity the rollouts need at once,
	// not any workload's floor. 100 is half of what an all-at-once
	// restart of a 200-workload mesh starts, and about what this
	// project's bench cluster rolls as fast as it can.
	DefaultRestartBatchSize = 100
	// DefaultRestartMaxUnavailable is Kubernetes' own default for a
	// Deployment's maxUnavailable, applied to the mesh: at most a quarter
	// of its pods may be unavailable at once because of the restarts, so
	// three quarters of its capacity stays up whatever the strategies of
	// its workloads.
	DefaultRestartMaxUnavailable = "25%"
	// DefaultRestartInitialBatch is the window at the start: a target that
	// breaks workloads reaches at most four before the first rollout says
	// so. Each healthy rollout then doubles the window, so once the first
	// rollouts on the target prove it the budget and the cap pace the
	// rest (4, then 64, then the cap).
	DefaultRestartInitialBatch    = 4
	DefaultRestartWorkloadTimeout = 5 * time.Minute
	DefaultRestartTimeout         = 30 * time.Minute
	DefaultAutoRollback           = true
	DefaultMinReadyIstiod         = 1
)

// DefaultSettings returns the settings used when meshops.yaml is absent or
// leaves a field out.
func DefaultSettings() Settings {
	return Settings{
		Values:    []string{DefaultValuesFile},
		Manifests: DefaultManifestsDir,
		Extensions: Extensions{
			IstioSystemNamespace:    DefaultIstioSystemNamespace,
			IngressGatewayNamespace: DefaultIngressGatewayNamespace,
			IngressGatewayService:   DefaultIngressGatewayService,
			RevisionPattern:         mesh.DefaultRevisionPattern,
			Restart: Restart{
				BatchSize:       DefaultRestartBatchSize,
				MaxUnavailable:  intstr.FromString(DefaultRestartMaxUnavailable),
				InitialBatch:    DefaultRestartInitialBatch,
				WorkloadTimeout: DefaultRestartWorkloadTimeout,
				Timeout:         DefaultRestartTimeout,
			},
			AutoRollback:   DefaultAutoRollback,
			MinReadyIstiod: DefaultMinReadyIstiod,
			Revisions:      DefaultRevisions(),
		},
	}
}

// firstValues is the first values file, the one overlays merge into.
func (s Settings) firstValues() string {
	if len(s.Values) == 0 {
		return DefaultValuesFile
	}
	return s.Values[0]
}

// settingsLines remembers where each field of meshops.yaml was written, so
// that later checks (a listed namespace without default deny) can point at it.
type settingsLines struct {
	file       string
	tree       *node
	namespaces []int
	exemptions []int
	// postureExemptions are the lines of meshops.postureExemptions' items.
	postureExemptions []int
}

// line returns the line of a field path in meshops.yaml, or 0.
func (l *settingsLines) line(path ...string) int {
	if l == nil || l.tree == nil {
		return 0
	}
	return l.tree.lineAt(path...)
}

// readSettings reads meshops.yaml from the repo onto defaults. A missing
// file is not a problem: the defaults apply.
func readSettings(repo *repoFS, file string, s *Settings) (*settingsLines, Problems, error) {
	lines := &settingsLines{file: file}
	data, err := repo.readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return lines, nil, nil
	}
	if ref := (*refusal)(nil); errors.As(err, &ref) {
		return lines, Problems{ref.problem()}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read settings %s: %w", file, err)
	}
	probs := decodeSettingsWithin(repo.budget, file, data, s, lines)
	return lines, probs, nil
}

// decodeSettings reads meshops.yaml strictly: unknown fields and wrong types
// are problems.
func decodeSettings(file string, data []byte, s *Settings, lines *settingsLines) Problems {
	return decodeSettingsWithin(nil, file, data, s, lines)
}

// decodeSettingsWithin is decodeSettings drawing on a load's budget (nil:
// a budget of its own).
func decodeSettingsWithin(b *budget, file string, data []byte, s *Settings, lines *settingsLines) Problems {
	root, perr := decodeSingle(b, file, data, nil, 0)
	if perr != nil {
		return Problems{*perr}
	}
	lines.tree = root
	r := &fieldReader{file: file}
	if root.isNull() {
		return nil
	}
	if !r.mapping(root, "", "values", "manifests", "cloud", "environment", "region", "regionShort", "stamp", "meshops") {
		return r.probs
	}
	if n := root.get("values"); n != nil && n.kind == listNode {
		s.Values, _ = r.stringList(n, "values")
		if len(n.items) == 0 {
			r.probs.add(file, n.line, "values", "name at least one values file, e.g. values: config/config.yaml", "values is an empty list")
		}
	} else if n != nil {
		var one string
		r.str(n, "values", &one)
		if one != "" {
			s.Values = []string{one}
		}
	}
	r.str(root.get("manifests"), "manifests", &s.Manifests)
	r.str(root.get("cloud"), "cloud", &s.Cloud)
	r.str(root.get("environment"), "environment", &s.Environment)
	r.str(root.get("region"), "region", &s.Region)
	r.str(root.get("regionShort"), "regionShort", &s.RegionShort)
	r.strOrNumber(root.get("stamp"), "stamp", &s.Stamp)

	m := root.get("meshops")
	if !r.mapping(m, "meshops", "istioSystemNamespace", "ingressGatewayNamespace", "ingressGatewayService", "revisionPattern", "namespaces",
		"restart", "autoRollback", "defaultDenyExemptions", "minReadyIstiod", "revisions", "postureExemptions", "createNamespaces") {
		return r.probs
	}
	e := &s.Extensions
	r.str(m.get("istioSystemNamespace"), "meshops.istioSystemNamespace", &e.IstioSystemNamespace)
	r.str(m.get("ingressGatewayNamespace"), "meshops.ingressGatewayNamespace", &e.IngressGatewayNamespace)
	r.str(m.get("ingressGatewayService"), "meshops.ingressGatewayService", &e.IngressGatewayService)
	r.str(m.get("revisionPattern"), "meshops.revisionPattern", &e.RevisionPattern)
	if n := m.get("namespaces"); n != nil {
		e.Namespaces, lines.namespaces = r.stringList(n, "meshops.namespaces")
	}
	r.boolean(m.get("autoRollback"), "meshops.autoRollback", &e.AutoRollback)
	r.boolean(m.get("createNamespaces"), "meshops.createNamespaces", &e.CreateNamespaces)
	r.integer(m.get("minReadyIstiod"), "meshops.minReadyIstiod", &e.MinReadyIstiod)

	if rs := m.get("restart"); r.mapping(rs, "meshops.restart", "batchSize", "maxUnavailable", "initialBatch", "workloadTimeout", "timeout", "namespaceOrder", "deleteBarePods") {
		r.integer(rs.get("batchSize"), "meshops.restart.batchSize", &e.Restart.BatchSize)
		r.intOrPercent(rs.get("maxUnavailable"), "meshops.restart.maxUnavailable", &e.Restart.MaxUnavailable)
		r.integer(rs.get("initialBatch"), "meshops.restart.initialBatch", &e.Restart.InitialBatch)
		r.duration(rs.get("workloadTimeout"), "meshops.restart.workloadTimeout", &e.Restart.WorkloadTimeout)
		r.duration(rs.get("timeout"), "meshops.restart.timeout", &e.Restart.Timeout)
		if n := rs.get("namespaceOrder"); n != nil {
			e.Restart.NamespaceOrder, _ = r.stringList(n, "meshops.restart.namespaceOrder")
		}
		r.boolean(rs.get("deleteBarePods"), "meshops.restart.deleteBarePods", &e.Restart.DeleteBarePods)
	}

	decodeRevisions(r, m.get("revisions"), &e.Revisions)

	exemptionList(r, m.get("defaultDenyExemptions"), "meshops.defaultDenyExemptions", "namespace", "x", func(it *node, field string) {
		var x Exemption
		r.str(it.get("namespace"), field+".namespace", &x.Namespace)
		r.str(it.get("reason"), field+".reason", &x.Reason)
		e.DefaultDenyExemptions = append(e.DefaultDenyExemptions, x)
		lines.exemptions = append(lines.exemptions, it.line)
	})
	// validate checks that each posture exemption has a reason.
	exemptionList(r, m.get("postureExemptions"), "meshops.postureExemptions", "object", "Kind/namespace/name", func(it *node, field string) {
		var x PostureExemption
		r.str(it.get("object"), field+".object", &x.Object)
		r.str(it.get("reason"), field+".reason", &x.Reason)
		e.PostureExemptions = append(e.PostureExemptions, x)
		lines.postureExemptions = append(lines.postureExemptions, it.line)
	})
	return r.probs
}

// exemptionList reads a list of exemptions, each a mapping of key and
// reason, calling each for every well-shaped item with its field path;
// other shapes are problems.
func exemptionList(r *fieldReader, ex *node, field, key, example string, each func(it *node, field string)) {
	if ex.isNull() {
		return
	}
	if ex.kind != listNode {
		r.wrongType(ex, field, "a list of {"+key+", reason}", "write each exemption as - "+key+": "+example+"\\n  reason: why")
		return
	}
	for i, it := range ex.items {
		f := indexPath(field, i)
		if !r.mapping(it, f, key, "reason") {
			if it.isNull() {
				r.wrongType(it, f, "a mapping with "+key+" and reason", "write - "+key+": "+example+"\\n  reason: why")
			}
			continue
		}
		each(it, f)
	}
}

// checkSettings checks values that are well-typed but make no sense. It runs
// after the caller's overrides, so it sees the settings actually used.
func checkSettings(s Settings, lines *settingsLines) Problems {
	var probs Problems
	file := lines.file
	at := func(path ...string) int { return lines.line(path...) }
	label := func(v, field string, line int) {
		if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
			probs.add(file, line, field, "use a valid namespace name (lowercase letters, digits and '-')",
				"%q is not a valid namespace name: %s", v, errs[0])
		}
	}
	e := s.Extensions
	label(e.IstioSystemNamespace, "meshops.istioSystemNamespace", at("meshops", "istioSystemNamespace"))
	label(e.IngressGatewayNamespace, "meshops.ingressGatewayNamespace", at("meshops", "ingressGatewayNamespace"))
	label(e.IngressGatewayService, "meshops.ingressGatewayService", at("meshops", "ingressGatewayService"))
	if _, err := mesh.ParseRevisionPattern(e.RevisionPattern); err != nil {
		probs.add(file, at("meshops", "revisionPattern"), "meshops.revisionPattern",
			"use placeholders <major>, <minor> and optionally <patch>, e.g. "+mesh.DefaultRevisionPattern+" or "+mesh.UpstreamRevisionPattern, "%v", err)
	}
	seen := map[string]bool{}
	for i, ns := range e.Namespaces {
		line := at("meshops", "namespaces")
		if i < len(lines.namespaces) {
			line = lines.namespaces[i]
		}
		field := indexPath("meshops.namespaces", i)
		label(ns, field, line)
		if seen[ns] {
			probs.add(file, line, field, "list each namespace once", "namespace %q is listed twice", ns)
		}
		seen[ns] = true
	}
	if e.Restart.BatchSize < 1 {
		probs.add(file, at("meshops", "restart", "batchSize"), "meshops.restart.batchSize", "set it to 1 or more",
			"expected at least 1, got %d", e.Restart.BatchSize)
	}
	if why := CheckMaxUnavailable(e.Restart.MaxUnavailable); why != "" {
		probs.add(file, at("meshops", "restart", "maxUnavailable"), "meshops.restart.maxUnavailable",
			`write a number of pods (maxUnavailable: 10) or a percentage of the mesh's pods (maxUnavailable: "25%")`, "%s", why)
	}
	if e.Restart.InitialBatch < 1 {
		probs.add(file, at("meshops", "restart", "initialBatch"), "meshops.restart.initialBatch",
			"set it to 1 or more (at most restart.batchSize is used)", "expected at least 1, got %d", e.Restart.InitialBatch)
	}
	if e.Restart.WorkloadTimeout <= 0 {
		probs.add(file, at("meshops", "restart", "workloadTimeout"), "meshops.restart.workloadTimeout", "set a positive duration such as 5m",
			"expected a positive duration, got %s", e.Restart.WorkloadTimeout)
	}
	if e.Restart.Timeout <= 0 {
		probs.add(file, at("meshops", "restart", "timeout"), "meshops.restart.timeout", "set a positive duration such as 30m",
			"expected a positive duration, got %s", e.Restart.Timeout)
	} else if e.Restart.WorkloadTimeout > e.Restart.Timeout {
		probs.add(file, at("meshops", "restart", "workloadTimeout"), "meshops.restart.workloadTimeout",
			"make restart.timeout at least as long as restart.workloadTimeout",
			"the per-workload timeout %s is longer than the overall timeout %s", e.Restart.WorkloadTimeout, e.Restart.Timeout)
	}
	for i, ns := range e.Restart.NamespaceOrder {
		label(ns, indexPath("meshops.restart.namespaceOrder", i), at("meshops", "restart", "namespaceOrder"))
	}
	if e.MinReadyIstiod < 1 {
		probs.add(file, at("meshops", "minReadyIstiod"), "meshops.minReadyIstiod", "set it to 1 or more: the gate must see a ready control plane",
			"expected at least 1, got %d", e.MinReadyIstiod)
	}
	probs = append(probs, checkRevisions(s, lines)...)
	for i, x := range e.DefaultDenyExemptions {
		line := at("meshops", "defaultDenyExemptions")
		if i < len(lines.exemptions) {
			line = lines.exemptions[i]
		}
		field := indexPath("meshops.defaultDenyExemptions", i)
		label(x.Namespace, field+".namespace", line)
		if x.Reason == "" {
			probs.add(file, line, field+".reason", "say why "+x.Namespace+" may go without a default-deny policy",
				"an exemption from default deny needs a reason")
		}
	}
	return probs
}
