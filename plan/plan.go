package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
)

// Phase groups steps; phases run in the order of Phases.
type Phase string

const (
	PhaseValidate   Phase = "validate"
	PhaseMeshConfig Phase = "mesh-config"
	PhaseRevision   Phase = "revision"
	PhaseGate       Phase = "gate"
	PhasePolicies   Phase = "policies"
	PhaseNamespaces Phase = "namespaces"
	PhaseTag        Phase = "tag"
	PhaseRestarts   Phase = "restarts"
	PhaseVerify     Phase = "verify"
	PhaseComplete   Phase = "complete"
	PhasePrune      Phase = "prune"
)

// Phases in execution order.
// The per-revision mesh ConfigMaps come before the revision itself (a new
// istiod reads them when it starts) and the revision before the gate that
// checks it; completing a canary comes only after verify.
var Phases = []Phase{PhaseValidate, PhaseMeshConfig, PhaseRevision, PhaseGate, PhasePolicies, PhaseNamespaces, PhaseTag, PhaseRestarts, PhaseVerify, PhaseComplete, PhasePrune}

// Plan is the ordered, reviewable list of steps that make the cluster
// match the repo. It is data, immutable once built: renderers and the
// executor only read it (the executor keeps its own run state).
type Plan struct {
	Commit string `json:"commit,omitempty"`
	// Uncommitted: planned from Commit plus the working tree's uncommitted
	// changes.
	Uncommitted bool     `json:"uncommitted,omitempty"`
	Tag         string   `json:"tag"`
	From        string   `json:"from,omitempty"`
	Target      string   `json:"target"`
	Scenario    Scenario `json:"scenario"`
	Blocked     bool     `json:"blocked"`
	Reason      string   `json:"reason"`
	Steps       []Step   `json:"steps"`
	Warnings    []string `json:"warnings,omitempty"`
	// ConfigChanges is what the change being planned does to the config
	// repo itself, against a base ref (plan --base); nil when not asked.
	ConfigChanges *ConfigChanges `json:"configChanges,omitempty"`
	// MeshPods is how many pods the workloads on the tag ran when the plan
	// was made (those the rollout restarts and those already on the
	// target): what a percentage in restart.maxUnavailable is of. Pacing,
	// not part of the plan document.
	MeshPods int `json:"-"`
	// Snapshot is the observation the plan was made from, for metrics and
	// reports; not part of the rendered plan.
	Snapshot *observe.Snapshot `json:"-"`
}

// Pending reports whether applying the plan would change anything.
func (p *Plan) Pending() bool {
	return slices.ContainsFunc(p.Steps, Step.Changes)
}

// InNamespace is the plan as seen from one namespace (kubectl's -n): only
// the steps whose target is in ns. The rest of the plan (scenario, reason,
// blocked) still describes the whole cluster. A copy; p is unchanged.
func (p *Plan) InNamespace(ns string) *Plan {
	q := *p
	q.Steps = slices.DeleteFunc(slices.Clone(p.Steps), func(s Step) bool { return s.Target.Namespace() != ns })
	return &q
}

// Inputs is everything Build decides from; Build itself does no I/O.
type Inputs struct {
	Config   *configs.Config
	Snapshot *observe.Snapshot
	Objects  []ObjectChange
	// Commit is the repo commit planned from; LastApplied the one the
	// cluster last converged to. Object changes at the same commit are drift,
	// unless the working tree holds uncommitted changes (Uncommitted): then
	// they are the user's edits.
	Commit, LastApplied string
	Uncommitted         bool
	// Probe is what a new pod on the tag gets injected today, when known.
	Probe *mesh.Sidecar
	// Inventory is what meshops applied before; what left git is pruned.
	Inventory object.ObjMetadataSet
	// BadRevisions failed a rollout and were rolled back; the target is not
	// tried again at the commit that failed unless RetryBadRevision.
	BadRevisions     map[string]state.BadRevision
	RetryBadRevision bool
	// MissingNamespaces are namespaces the config puts objects in, or joins
	// to the mesh, that do not exist: the plan is blocked naming them.
	MissingNamespaces []string
	// Revisions is what the revision provider decided, when meshops drives
	// the revisions itself (the aks provider); nil when someone else
	// installs them.
	Revisions *Revisions
}

// Build orders the steps that make the cluster match the repo.
func Build(in Inputs) *Plan {
	cfg := in.Config
	ext := cfg.Settings.Extensions
	d := Desired{
		Versions:       cfg.Istio.VersionNames(),
		Target:         cfg.Istio.Target.Name,
		Tag:            cfg.Istio.Tag,
		MinReadyIstiod: int32(ext.MinReadyIstiod),
		Pattern:        cfg.RevisionPattern(),
		Installing:     in.Revisions.installs(cfg.Istio.Target.Name),
		DeleteBarePods: ext.Restart.DeleteBarePods,
	}
	objectsChange := slices.ContainsFunc(in.Objects, func(c ObjectChange) bool { return c.Action != ObjectUnchanged })
	patched := proxyPatched(in.Snapshot, d, in.Probe)
	ch := Changes{
		Policies:   objectsChange && (in.Commit == "" || in.Commit != in.LastApplied || in.Uncommitted),
		Drift:      objectsChange && in.Commit != "" && in.Commit == in.LastApplied && !in.Uncommitted,
		ProxyPatch: len(patched) > 0,
	}
	cl := Classify(in.Snapshot, d, ch)
	cl = in.Revisions.classify(cl)
	if len(in.MissingNamespaces) > 0 && !ext.CreateNamespaces {
		cl = cl.block(ScenarioNamespacesMissing, fmt.Sprintf("namespaces %s do not exist: create them (kubectl create namespace NAME), or set meshops.createNamespaces: true to let meshops create them",
			strings.Join(in.MissingNamespaces, ", ")))
	}
	if bad, ok := in.BadRevisions[d.Target]; ok && !cl.Blocked && !in.RetryBadRevision && bad.Commit == in.Commit &&
		(cl.From != d.Target || len(cl.Restart) > 0) {
		cl = cl.block(ScenarioBadRevision, fmt.Sprintf("%s failed a rollout at %s and was rolled back (%s); push a new commit or run meshops sync --retry-bad-revision",
			d.Target, bad.Time.UTC().Format(time.RFC3339), bad.Error))
	}
	p := &Plan{Commit: in.Commit, Uncommitted: in.Uncommitted, Tag: d.Tag, From: cl.From, Target: d.Target, Scenario: cl.Scenario, Blocked: cl.Blocked, Reason: cl.Reason}

	p.add(Step{Phase: PhaseValidate, Action: ActionCheck, Op: OpValidate, Target: ConfigTarget(),
		Reason: fmt.Sprintf("%d managed objects valid; schemas checked offline and by server-side dry run", len(cfg.Manifests))})
	if cl.Blocked {
		p.add(Step{Phase: PhaseGate, Action: ActionCheck, Op: OpGate, Target: RevisionTarget(d.Target), Reason: "BLOCKED: " + cl.Reason})
		return p
	}
	meshConfig, policies := splitObjects(in.Objects, ext.IstioSystemNamespace)
	if ext.CreateNamespaces {
		// Before anything goes into them; a namespace of the mesh is
		// created on the tag.
		for _, ns := range in.MissingNamespaces {
			reason := "missing; meshops.createNamespaces is on"
			if slices.Contains(ext.Namespaces, ns) {
				reason += fmt.Sprintf(": created with istio.io/rev=%s", d.Tag)
			}
			p.add(Step{Phase: PhaseMeshConfig, Action: ActionCreate, Op: OpCreateNamespace, Target: NamespaceTarget(ns), Reason: reason})
		}
	}
	p.addMeshConfig(meshConfig)
	p.addIngress(in.Snapshot, cfg)
	p.addRevisionChange(in.Revisions)
	_, why := in.Snapshot.ControlPlanes[d.Target].Healthy(d.MinReadyIstiod)
	if d.Installing {
		why = fmt.Sprintf("wait for %s after the revision change: ready, with its injector, and injecting a probe pod", mesh.IstiodName(d.Target))
	}
	p.add(Step{Phase: PhaseGate, Action: ActionCheck, Op: OpGate, Target: RevisionTarget(d.Target), Reason: why})

	p.addPolicies(policies)
	p.addNamespaces(in.Snapshot, d.Tag, ext.Namespaces, ext.CreateNamespaces)
	tag := TagTarget(d.Tag, TagWebhookRef(d.Tag, ext.IstioSystemNamespace))
	switch {
	case cl.From == "":
		p.add(Step{Phase: PhaseTag, Action: ActionCreate, Op: OpSetTag, Target: tag,
			Reason: fmt.Sprintf("create tag %s on %s", d.Tag, d.Target)})
	case cl.From != d.Target:
		p.add(Step{Phase: PhaseTag, Action: ActionFlip, Op: OpSetTag, Target: tag,
			Reason: fmt.Sprintf("move tag %s from %s to %s, after the injection probe shows %s", d.Tag, cl.From, d.Target, d.Target)})
	}
	restarts := slices.Clone(cl.Restart)
	for _, w := range patched {
		if !slices.Contains(restarts, w) {
			restarts = append(restarts, w)
		}
	}
	// Workloads broken before the upgrade go last, and their failure is
	// not evidence against the target: a restart onto any revision would
	// not have fixed them.
	pods := meshPods(in.Snapshot, d.Tag)
	for _, n := range pods {
		p.MeshPods += n
	}
	healthy, broken := splitUnhealthy(in.Snapshot, restarts)
	orderWorkloads(healthy, ext.Restart.NamespaceOrder)
	orderWorkloads(broken, ext.Restart.NamespaceOrder)
	for _, w := range append(healthy, broken...) {
		step := Step{Phase: PhaseRestarts, Action: ActionRestart, Op: OpRestart, Target: WorkloadTarget(w),
			Reason: "pods run another revision than " + d.Target, Revision: d.Target, Pods: pods[w]}
		if slices.Contains(patched, w) && !slices.Contains(cl.Restart, w) {
			step.Proxy = mesh.ImageTag(in.Probe.Image)
			step.Reason = fmt.Sprintf("pods run an older proxy than %s injects now (%s)", d.Target, step.Proxy)
		}
		if slices.Contains(broken, w) {
			step.UnhealthyBefore = true
			step.Reason += "; not healthy before the upgrade: restarted last, its failure does not count against " + d.Target
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s has pods that are not ready before the upgrade: it restarts last, and if it does not come up on %s either, that is reported, not rolled back or held against %s",
				w, d.Target, d.Target))
		}
		p.add(step)
	}
	bare, warnings := unrestartable(in.Snapshot, d, ext.Restart.DeleteBarePods)
	for _, pod := range bare {
		p.add(Step{Phase: PhaseRestarts, Action: ActionDelete, Op: OpDeletePod, Target: WorkloadTarget(pod), Revision: d.Target, Pods: pods[pod],
			Reason: "bare pod on another revision: deleted because meshops.restart.deleteBarePods is on; nothing recreates it"})
	}
	p.Warnings = append(p.Warnings, warnings...)
	if len(warnings) > 0 && p.Scenario == ScenarioInSync {
		// The headline must not say "every workload" while the warnings
		// list some that run another revision.
		p.Reason = fmt.Sprintf("tag %s on %s; %d %s that a restart cannot move still %s another revision (see the warnings)",
			d.Tag, d.Target, len(warnings), plural(len(warnings), "workload", "workloads"), plural(len(warnings), "runs", "run"))
	}
	completes := p.revisionsComplete(in.Revisions)
	if len(restarts) > 0 || len(bare) > 0 || cl.From != d.Target || completes != nil {
		p.add(Step{Phase: PhaseVerify, Action: ActionCheck, Op: OpVerify, Target: MeshTarget(),
			Reason: fmt.Sprintf("every pod on the tag runs %s; ingress gateway healthy", d.Target)})
	}
	if completes != nil {
		p.add(*completes)
		if p.Scenario == ScenarioInSync {
			p.Scenario, p.Reason = ScenarioCompleteCanary, completes.Reason
		}
	}
	for _, id := range Stale(in.Inventory, cfg.Manifests) {
		p.add(Step{Phase: PhasePrune, Action: ActionDelete, Op: OpPrune, Target: ObjectTarget(ref.FromMetadata(id)),
			Reason: "left git; meshops applied it, so meshops deletes it"})
	}
	return p
}

// TagWebhookRef is the MutatingWebhookConfiguration that makes tag an alias.
func TagWebhookRef(tag, istioNamespace string) ref.Object {
	return ref.Object{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration", Name: mesh.TagWebhookName(tag, istioNamespace)}
}

// Stale is what meshops applied before and git no longer holds, sorted.
func Stale(inventory object.ObjMetadataSet, manifests []configs.Manifest) []object.ObjMetadata {
	current := make(object.ObjMetadataSet, 0, len(manifests))
	for _, m := range manifests {
		current = append(current, m.ObjMetadata())
	}
	stale := inventory.Diff(current)
	sort.Slice(stale, func(i, j int) bool {
		a, b := ref.FromMetadata(stale[i]), ref.FromMetadata(stale[j])
		if a.String() != b.String() {
			return a.String() < b.String()
		}
		return a.Group < b.Group
	})
	return stale
}

func (p *Plan) add(s Step) { p.Steps = append(p.Steps, s) }

// splitObjects sorts object changes into the per-revision mesh
// ConfigMaps (applied before any revision changes) and the rest.
func splitObjects(objects []ObjectChange, istioNamespace string) (meshConfig, rest []ObjectChange) {
	for _, c := range objects {
		if c.Action == ObjectUnchanged {
			continue
		}
		if c.Manifest.GetKind() == "ConfigMap" && c.Manifest.GetNamespace() == istioNamespace {
			meshConfig = append(meshConfig, c)
		} else {
			rest = append(rest, c)
		}
	}
	return meshConfig, rest
}

// addMeshConfig adds the per-revision mesh ConfigMaps' changes.
func (p *Plan) addMeshConfig(meshConfig []ObjectChange) { p.addObjectGroups(meshConfig, nil, nil) }

// addPolicies adds the other object changes in safe order: ALLOW and other
// policies, then default-deny, so a deny never lands before the allows of
// the same commit.
func (p *Plan) addPolicies(objects []ObjectChange) {
	var policies, denies []ObjectChange
	for _, c := range objects {
		if configs.IsDefaultDeny(c.Manifest) {
			denies = append(denies, c)
		} else {
			policies = append(policies, c)
		}
	}
	p.addObjectGroups(nil, policies, denies)
}

func (p *Plan) addObjectGroups(meshConfig, policies, denies []ObjectChange) {
	for _, group := range []struct {
		phase   Phase
		changes []ObjectChange
		reason  string
	}{
		{PhaseMeshConfig, meshConfig, "per-revision mesh config"},
		{PhasePolicies, policies, "as in git"},
		{PhasePolicies, denies, "default deny, after the ALLOW policies it relies on"},
	} {
		for _, c := range group.changes {
			action, reason := ActionUpdate, group.reason+": differs from git"
			if c.Action == ObjectCreate {
				action, reason = ActionCreate, group.reason+": missing"
			}
			id := c.Manifest.ObjMetadata()
			if c.Replace {
				reason = group.reason + ": fields added outside git are removed"
			}
			p.add(Step{Phase: group.phase, Action: action, Op: OpApply, Target: ObjectTarget(ref.FromMetadata(id)), Reason: reason,
				Diff: c.Diff, Source: c.Manifest.Source.String(), Replace: c.Replace})
		}
	}
}

// Azure's annotations on the gateway Service that keep its public IP
// across gateway upgrades.
const (
	AzurePIPNameAnnotation         = "service.beta.kubernetes.io/azure-pip-name"
	AzureLBResourceGroupAnnotation = "service.beta.kubernetes.io/azure-load-balancer-resource-group"
)

// IngressAnnotations are the annotations the gateway Service must carry,
// nil when the config names no public IP.
func IngressAnnotations(cfg *configs.Config) map[string]string {
	if cfg.Istio.IngressGatewayIPAddressName == "" {
		return nil
	}
	return map[string]string{
		AzurePIPNameAnnotation:         cfg.Istio.IngressGatewayIPAddressName,
		AzureLBResourceGroupAnnotation: cfg.Istio.RegionRG,
	}
}

// addIngress annotates the gateway Service with its public IP's name and
// resource group when they differ from the config.
func (p *Plan) addIngress(s *observe.Snapshot, cfg *configs.Config) {
	want := IngressAnnotations(cfg)
	if want == nil {
		return
	}
	ext := cfg.Settings.Extensions
	if s.Ingress == nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("ingress gateway Service %s/%s not found: its public IP annotations cannot be set", ext.IngressGatewayNamespace, ext.IngressGatewayService))
		return
	}
	var diffs []string
	for _, k := range []string{AzurePIPNameAnnotation, AzureLBResourceGroupAnnotation} {
		if got := s.Ingress.Annotations[k]; got != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s=%s (now %q)", k, want[k], got))
		}
	}
	if len(diffs) > 0 {
		p.add(Step{Phase: PhaseMeshConfig, Action: ActionUpdate, Op: OpAnnotate,
			Target: ObjectTarget(ref.Object{Kind: "Service", Namespace: s.Ingress.Namespace, Name: s.Ingress.Name}),
			Reason: "keep the gateway's public IP across upgrades: " + strings.Join(diffs, ", ")})
	}
}

func (p *Plan) addNamespaces(s *observe.Snapshot, tag string, namespaces []string, created bool) {
	for _, name := range namespaces {
		ns, ok := s.Namespaces[name]
		switch {
		case !ok && created:
			// Created on the tag in the mesh-config phase.
		case !ok:
			p.Warnings = append(p.Warnings, fmt.Sprintf("namespace %s is listed in meshops.namespaces but does not exist; create it (meshops does not create namespaces)", name))
		case ns.Injection != "":
			p.Warnings = append(p.Warnings, fmt.Sprintf("namespace %s has istio-injection=%s, which wins over istio.io/rev; remove it so the tag applies", name, ns.Injection))
		case ns.Rev != tag:
			p.add(Step{Phase: PhaseNamespaces, Action: ActionLabel, Op: OpLabel, Target: NamespaceTarget(name),
				Reason: fmt.Sprintf("istio.io/rev=%s (now %q)", tag, ns.Rev)})
		}
	}
}

// proxyPatched lists the workloads in tag namespaces whose pods run the
// target revision with another proxy image than it injects today.
func proxyPatched(s *observe.Snapshot, d Desired, probe *mesh.Sidecar) []ref.Workload {
	if probe == nil || probe.Revision != d.Target || probe.Image == "" {
		return nil
	}
	var out []ref.Workload
	for _, w := range s.Workloads {
		if !s.OnTag(w, d.Tag) || !w.Kind.Restartable() {
			continue
		}
		for _, pod := range w.Pods {
			if pod.Sidecar.Revision == d.Target && pod.Sidecar.Image != "" && mesh.ImageTag(pod.Sidecar.Image) != mesh.ImageTag(probe.Image) {
				out = append(out, w.Ref())
				break
			}
		}
	}
	return out
}

// unrestartable finds bare pods and Jobs on the tag that run another
// revision: a restart cannot move them. Bare pods are deleted when the
// config allows it (deleteBarePods), else they and Jobs are warnings.
func unrestartable(s *observe.Snapshot, d Desired, deleteBarePods bool) (deletes []ref.Workload, warnings []string) {
	for _, w := range s.Workloads {
		if !s.OnTag(w, d.Tag) || w.Kind.Restartable() {
			continue
		}
		for rev := range w.Revisions() {
			if rev == d.Target {
				continue
			}
			if w.Kind == ref.Pod && deleteBarePods {
				deletes = append(deletes, w.Ref())
			} else {
				warnings = append(warnings, fmt.Sprintf("%s runs %s and is not restarted: delete it or let it finish to move it to %s", w.Ref(), revisionOrUnknown(rev), d.Target))
			}
			break
		}
	}
	slices.SortFunc(deletes, ref.Workload.Compare)
	sort.Strings(warnings)
	return deletes, warnings
}

// orderWorkloads sorts workloads by the configured namespace order first,
// then by namespace and name.
func orderWorkloads(ws []ref.Workload, order []string) {
	rank := func(w ref.Workload) int {
		if i := slices.Index(order, w.Namespace); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(ws, func(a, b ref.Workload) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if a.Namespace != b.Namespace {
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.String(), b.String())
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// meshPods counts the live pods of each workload on the tag: the mesh a
// restart budget is a share of.
func meshPods(s *observe.Snapshot, tag string) map[ref.Workload]int {
	out := map[ref.Workload]int{}
	for _, w := range s.Workloads {
		if s.OnTag(w, tag) {
			out[w.Ref()] = len(w.Pods)
		}
	}
	return out
}

// splitUnhealthy separates the workloads whose pods are all ready from
// those with a pod that is not, in the snapshot taken before any change.
func splitUnhealthy(s *observe.Snapshot, ws []ref.Workload) (healthy, broken []ref.Workload) {
	unhealthy := map[ref.Workload]bool{}
	for _, w := range s.Workloads {
		if w.Unhealthy() {
			unhealthy[w.Ref()] = true
		}
	}
	for _, w := range ws {
		if unhealthy[w] {
			broken = append(broken, w)
		} else {
			healthy = append(healthy, w)
		}
	}
	return healthy, broken
}

// MissingNamespaces lists, sorted, the namespaces that the manifests or
// meshops.namespaces name and the snapshot does not hold.
func MissingNamespaces(cfg *configs.Config, s *observe.Snapshot) []string {
	var missing []string
	note := func(ns string) {
		if _, ok := s.Namespaces[ns]; ns != "" && !ok && !slices.Contains(missing, ns) {
			missing = append(missing, ns)
		}
	}
	for _, m := range cfg.Manifests {
		note(m.GetNamespace())
	}
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		note(ns)
	}
	slices.Sort(missing)
	return missing
}

// Source names what the plan was made from: the commit, "+ uncommitted
// changes" when the working tree had some, or the working tree outside git.
func (p *Plan) Source() string {
	switch {
	case p.Commit == "":
		return "the working tree"
	case p.Uncommitted:
		return p.Commit + " + uncommitted changes"
	}
	return p.Commit
}
