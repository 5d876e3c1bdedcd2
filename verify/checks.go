package verify

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
)

// Desired is what the config repo says the mesh should be, as the checks
// need it.
type Desired struct {
	// Tag is the revision tag mesh namespaces use; Target the revision it
	// should point at; Versions every revision the config keeps installed.
	Tag, Target string
	Versions    []string
	// Namespaces are the mesh namespaces the config lists.
	Namespaces []string
	Options
	// IngressAnnotations are the annotations IngressService must carry
	// (plan.IngressAnnotations); nil when the config pins no public IP.
	IngressAnnotations map[string]string
	// MinReadyIstiod is the target istiod's ready-replica floor.
	MinReadyIstiod int32
	// Exemptions are the objects (Kind/namespace/name) the config allows
	// to weaken mTLS (meshops.postureExemptions).
	Exemptions []string
}

// DesiredFor reads what the checks compare against from the config.
func DesiredFor(cfg *configs.Config) Desired {
	ext := cfg.Settings.Extensions
	d := Desired{
		Tag: cfg.Istio.Tag, Target: cfg.Istio.Target.Name, Versions: cfg.Istio.VersionNames(),
		Namespaces: ext.Namespaces, Options: OptionsFor(cfg),
		IngressAnnotations: plan.IngressAnnotations(cfg), MinReadyIstiod: int32(ext.MinReadyIstiod),
	}
	for _, x := range ext.PostureExemptions {
		d.Exemptions = append(d.Exemptions, x.Object)
	}
	return d
}

// Check runs every rule over s. It is pure; findings come rule by rule,
// each rule's in a stable order.
func Check(s *State, d Desired) []Finding {
	var out []Finding
	for _, rule := range []func(*State, Desired) []Finding{
		istiodReady, tagTarget, namespaceLabels, injectionCoverage, leftoverRevisions, leftoverTags,
		staleProxies, ingressServices, strictMTLS, gatewayCredentials,
	} {
		out = append(out, rule(s, d)...)
	}
	return out
}

// ConcernsRollout says whether a finding is about what a rollout to
// d.Target just did: the target's istiod, workloads the rollout moved
// onto the tag's revision left without a proxy, and the ingress gateway's
// Services. The sync's verify step fails only on those. Everything else —
// another revision's istiod, pods on the tag that predate their namespace
// joining the mesh (nothing restarted them), leftovers, pinned namespaces,
// mTLS, a TLS Secret that Key Vault has not synced yet, a proxy the
// restarts did not own (the add-on rolls its gateways) — was not caused
// by the rollout, and failing on it would roll back a good revision and
// record it as bad.
func ConcernsRollout(d Desired, moved []ref.Workload, f Finding) bool {
	switch f.Rule {
	case RuleIstiodReady:
		return f.Revision == d.Target
	case RuleInjection:
		return f.Workload != nil && slices.Contains(moved, *f.Workload)
	case RuleIngressService:
		return true
	}
	return false
}

func istiodObject(cp mesh.ControlPlane, istioNamespace string) ref.Object {
	if !cp.Found && cp.InjectorPresent {
		return ref.Object{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration", Name: mesh.InjectorWebhookName(cp.Revision, istioNamespace)}
	}
	return ref.Object{Group: "apps", Kind: "Deployment", Namespace: istioNamespace, Name: mesh.IstiodName(cp.Revision)}
}

// istiodReady: every installed revision's istiod is ready, not only the
// target's (the script checked every istiod pod); the target must be
// installed at all.
func istiodReady(s *State, d Desired) []Finding {
	var out []Finding
	if _, ok := s.ControlPlanes[d.Target]; d.Target != "" && !ok {
		out = append(out, Finding{Rule: RuleIstiodReady, Severity: Error, Revision: d.Target,
			Object:  ref.Object{Group: "apps", Kind: "Deployment", Namespace: d.IstioNamespace, Name: mesh.IstiodName(d.Target)},
			Problem: fmt.Sprintf("the target revision %s is not installed", d.Target),
			Fix:     "run meshops sync (provider aks installs it), or install it with whoever owns the revisions"})
	}
	for _, rev := range slices.Sorted(maps.Keys(s.ControlPlanes)) {
		cp := s.ControlPlanes[rev]
		floor := int32(1)
		if rev == d.Target {
			floor = d.MinReadyIstiod
		}
		if ok, why := cp.Healthy(floor); !ok {
			out = append(out, Finding{Rule: RuleIstiodReady, Severity: Error, Revision: rev, Object: istiodObject(cp, d.IstioNamespace),
				Problem: why,
				Fix:     fmt.Sprintf("kubectl -n %s describe deployment %s and its pods' events; nothing moves onto %s until it is ready", d.IstioNamespace, mesh.IstiodName(rev), rev)})
		}
	}
	return out
}

// tagTarget: the config's tag exists and points at the target.
func tagTarget(s *State, d Desired) []Finding {
	if d.Tag == "" {
		return nil
	}
	obj := ref.Object{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration", Name: mesh.TagWebhookName(d.Tag, d.IstioNamespace)}
	t, ok := s.Tags[d.Tag]
	switch {
	case !ok:
		return []Finding{{Rule: RuleTag, Severity: Error, Object: obj,
			Problem: fmt.Sprintf("tag %s does not exist: namespaces labelled istio.io/rev=%s get no sidecar", d.Tag, d.Tag),
			Fix:     "run meshops sync: it creates the tag on " + d.Target}}
	case t.Revision != d.Target:
		obj.Name = t.Webhook
		return []Finding{{Rule: RuleTag, Severity: Error, Object: obj, Revision: t.Revision,
			Problem: fmt.Sprintf("tag %s points at %s, the config's target is %s", d.Tag, orUnknown(t.Revision), d.Target),
			Fix:     "run meshops sync: it moves the tag once " + d.Target + " passes the gate"}}
	}
	return nil
}

func namespaceObject(name string) ref.Object { return ref.Object{Kind: "Namespace", Name: name} }

// namespaceLabels: namespaces join the mesh through the tag, so the next
// upgrade moves them. A namespace pinned to a revision stays behind (the
// script failed on "direct revision labels"), and istio-injection wins
// over istio.io/rev: enabled injects the default revision, which the AKS
// add-on does not run; disabled turns a mesh namespace off.
func namespaceLabels(s *State, d Desired) []Finding {
	var out []Finding
	for _, name := range slices.Sorted(maps.Keys(s.Namespaces)) {
		ns := s.Namespaces[name]
		if name == d.IstioNamespace {
			continue
		}
		relabel := fmt.Sprintf("kubectl label namespace %s istio.io/rev=%s --overwrite, then restart its workloads", name, orTag(d.Tag))
		_, isRevision := s.ControlPlanes[ns.Rev]
		_, isTag := s.Tags[ns.Rev]
		if ns.Rev != "" && ns.Rev != d.Tag && (isRevision || !isTag) {
			out = append(out, Finding{Rule: RuleNamespaceLabel, Severity: Error, Object: namespaceObject(name), Revision: ns.Rev,
				Problem: fmt.Sprintf("pinned to revision %s (istio.io/rev=%s) instead of tag %s: upgrades do not move it", ns.Rev, ns.Rev, orTag(d.Tag)),
				Fix:     relabel})
		}
		switch {
		case ns.Injection == "enabled":
			out = append(out, Finding{Rule: RuleNamespaceLabel, Severity: Error, Object: namespaceObject(name),
				Problem: "labelled istio-injection=enabled, which wins over istio.io/rev and asks for the default revision (the AKS add-on has none)",
				Fix:     fmt.Sprintf("kubectl label namespace %s istio-injection- istio.io/rev=%s --overwrite, then restart its workloads", name, orTag(d.Tag))})
		case ns.Injection != "" && slices.Contains(d.Namespaces, name):
			out = append(out, Finding{Rule: RuleNamespaceLabel, Severity: Error, Object: namespaceObject(name),
				Problem: fmt.Sprintf("labelled istio-injection=%s, which wins over istio.io/rev: this mesh namespace gets no sidecars", ns.Injection),
				Fix:     fmt.Sprintf("kubectl label namespace %s istio-injection-, then restart its workloads", name)})
		}
	}
	return out
}

// meshNamespace: the config lists it, or a label asks for injection. The
// control plane's and the gateways' namespaces run proxies of their own.
func meshNamespace(ns observe.Namespace, d Desired) bool {
	if ns.Name == d.IstioNamespace || ns.Name == d.IngressNamespace || ns.Injection == "disabled" {
		return false
	}
	return slices.Contains(d.Namespaces, ns.Name) || ns.Rev != "" || ns.Injection == "enabled"
}

// injectionCoverage: every pod in a mesh namespace has a proxy, unless it
// opted out (sidecar.istio.io/inject=false). The script counted injected
// pods per namespace; this names them.
func injectionCoverage(s *State, d Desired) []Finding {
	var out []Finding
	for _, w := range s.Workloads {
		ns, ok := s.Namespaces[w.Namespace]
		if !ok || !meshNamespace(ns, d) {
			continue
		}
		var pods []string
		for _, p := range w.Pods {
			if !p.Sidecar.Injected && !p.Sidecar.OptedOut {
				pods = append(pods, p.Name)
			}
		}
		if len(pods) == 0 {
			continue
		}
		wr := w.Ref()
		out = append(out, Finding{Rule: RuleInjection, Severity: Error, Object: wr.Object(), Workload: &wr, Pods: pods,
			Problem: fmt.Sprintf("%d pod(s) in mesh namespace %s run without a sidecar: outside mTLS and the authorization policies", len(pods), w.Namespace),
			Fix:     restartFix(wr, "so the injector adds the proxy; if it must run without one, label its pods "+mesh.InjectLabel+"=false")})
	}
	return out
}

// restartFix says how to replace a workload's pods.
func restartFix(w ref.Workload, why string) string {
	switch {
	case w.Kind.Restartable():
		return fmt.Sprintf("kubectl -n %s rollout restart %s/%s %s", w.Namespace, strings.ToLower(string(w.Kind)), w.Name, why)
	case w.Kind == ref.Pod:
		return fmt.Sprintf("delete and recreate pod %s/%s %s", w.Namespace, w.Name, why)
	}
	return fmt.Sprintf("let %s finish: its next run starts new pods %s", w, why)
}

// leftoverRevisions: revisions installed but not in svc.istio.versions.
// With pods still on one it is an error (removing it strands them); an
// empty one is ready to remove.
func leftoverRevisions(s *State, d Desired) []Finding {
	var out []Finding
	for _, rev := range slices.Sorted(maps.Keys(s.ControlPlanes)) {
		if slices.Contains(d.Versions, rev) {
			continue
		}
		var users []string
		for _, w := range s.Workloads {
			if w.Revisions()[rev] > 0 {
				users = append(users, w.Ref().String())
			}
		}
		f := Finding{Rule: RuleLeftoverRevision, Severity: Warning, Revision: rev, Object: istiodObject(s.ControlPlanes[rev], d.IstioNamespace),
			Problem: fmt.Sprintf("revision %s is installed but not in svc.istio.versions %v", rev, d.Versions),
			Fix:     "remove it: with provider aks, meshops completes the canary; otherwise ask whoever installed it"}
		if len(users) > 0 {
			f.Severity = Error
			f.Problem += fmt.Sprintf(", and %d workload(s) still run it: %s", len(users), clipList(users))
			f.Fix = fmt.Sprintf("move them to %s (label their namespaces istio.io/rev=%s and restart them), then remove %s", orTag(d.Target), orTag(d.Tag), rev)
		}
		out = append(out, f)
	}
	return out
}

// leftoverTags: tags other than the config's. Namespaces still on one do
// not follow upgrades.
func leftoverTags(s *State, d Desired) []Finding {
	var out []Finding
	for _, name := range slices.Sorted(maps.Keys(s.Tags)) {
		if name == d.Tag {
			continue
		}
		t := s.Tags[name]
		var users []string
		for _, nsName := range slices.Sorted(maps.Keys(s.Namespaces)) {
			if s.Namespaces[nsName].Rev == name {
				users = append(users, nsName)
			}
		}
		f := Finding{Rule: RuleLeftoverTag, Severity: Warning, Revision: t.Revision,
			Object:  ref.Object{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration", Name: t.Webhook},
			Problem: fmt.Sprintf("tag %s (on %s) is not the config's tag %s", name, orUnknown(t.Revision), orTag(d.Tag)),
			Fix:     fmt.Sprintf("delete MutatingWebhookConfiguration %s and Service %s/%s (istioctl tag remove %s)", t.Webhook, d.IstioNamespace, mesh.TagServiceName(name), name)}
		if len(users) > 0 {
			f.Severity = Error
			f.Problem += fmt.Sprintf(", and namespaces %s still use it: upgrades do not move them", clipList(users))
			f.Fix = fmt.Sprintf("label them istio.io/rev=%s --overwrite and restart their workloads, then %s", orTag(d.Tag), f.Fix)
		}
		out = append(out, f)
	}
	return out
}

// staleProxies: pods (gateways included) whose proxy image tag differs
// from what their revision injects now, by the revision's injector values.
// A proxy that names no revision (a gateway's own istio-proxy container)
// is compared with the revision the tag points at. The script compared
// images with the newest istiod's; this compares each with its own
// revision, so a canary's pods are not called stale.
func staleProxies(s *State, d Desired) []Finding {
	tagRev := d.Target
	if t, ok := s.Tags[d.Tag]; ok && t.Revision != "" {
		tagRev = t.Revision
	}
	var out []Finding
	for _, w := range s.Workloads {
		var pods, seen []string
		var rev string
		for _, p := range w.Pods {
			if !p.Sidecar.Injected || p.Sidecar.Image == "" {
				continue
			}
			r := p.Sidecar.Revision
			if r == "" {
				r = tagRev
			}
			want, ok := s.ProxyTags[r]
			if got := mesh.ImageTag(p.Sidecar.Image); ok && got != want {
				pods, rev = append(pods, p.Name), r
				if !slices.Contains(seen, got) {
					seen = append(seen, got)
				}
			}
		}
		if len(pods) == 0 {
			continue
		}
		wr := w.Ref()
		out = append(out, Finding{Rule: RuleStaleProxy, Severity: Error, Object: wr.Object(), Workload: &wr, Revision: rev, Pods: pods,
			Problem: fmt.Sprintf("%d pod(s) run proxy %s; revision %s injects %s now", len(pods), strings.Join(seen, ", "), rev, s.ProxyTags[rev]),
			Fix:     restartFix(wr, "to get the current proxy")})
	}
	return out
}

// ingressServices: the shared gateway's Service exists and carries the
// public IP annotations the config names; every LoadBalancer Service in
// the ingress namespace has an address and, when the config pins an IP,
// a public IP annotation (the script failed on "pip=none").
func ingressServices(s *State, d Desired) []Finding {
	var out []Finding
	svc := func(name string) ref.Object {
		return ref.Object{Kind: "Service", Namespace: d.IngressNamespace, Name: name}
	}
	if d.IngressService != "" && !slices.ContainsFunc(s.LoadBalancers, func(in observe.Ingress) bool { return in.Name == d.IngressService }) {
		out = append(out, Finding{Rule: RuleIngressService, Severity: Error, Object: svc(d.IngressService),
			Problem: "the ingress gateway's LoadBalancer Service is missing: nothing outside the cluster reaches the mesh",
			Fix:     "enable the add-on's external ingress gateway (az aks mesh enable-ingress-gateway --ingress-gateway-type external), or set meshops.ingressGatewayNamespace and ingressGatewayService to where it runs"})
	}
	for _, lb := range s.LoadBalancers {
		if d.IngressAnnotations != nil {
			keys := slices.Sorted(maps.Keys(d.IngressAnnotations))
			if lb.Name != d.IngressService {
				keys = []string{plan.AzurePIPNameAnnotation}
			}
			var wrong []string
			for _, k := range keys {
				got, ok := lb.Annotations[k]
				if want := d.IngressAnnotations[k]; !ok || (lb.Name == d.IngressService && got != want) {
					wrong = append(wrong, fmt.Sprintf("%s=%q (want %q)", k, got, want))
				}
			}
			if len(wrong) > 0 {
				fix := "run meshops sync: it annotates the gateway Service with the config's public IP"
				if lb.Name != d.IngressService {
					fix = fmt.Sprintf("annotate it with %s and the resource group of its public IP, so an upgrade keeps its address", plan.AzurePIPNameAnnotation)
				}
				out = append(out, Finding{Rule: RuleIngressService, Severity: Error, Object: svc(lb.Name),
					Problem: "public IP not pinned: " + strings.Join(wrong, ", "), Fix: fix})
			}
		}
		if lb.Address == "" {
			out = append(out, Finding{Rule: RuleIngressService, Severity: Error, Object: svc(lb.Name),
				Problem: "the load balancer has no address",
				Fix:     fmt.Sprintf("kubectl -n %s describe service %s: its events say why (public IP missing, in use, or in another resource group)", lb.Namespace, lb.Name)})
		}
	}
	return out
}

// strictMTLS: a mesh-wide PeerAuthentication (root namespace, no selector)
// with mode STRICT, and no PeerAuthentication that lets plain text in for
// whole workloads or namespaces (DISABLE or PERMISSIVE) unless the config
// exempts it with a reason. Ports opened with portLevelMtls are the narrow
// way and are not reported.
func strictMTLS(s *State, d Desired) []Finding {
	var out []Finding
	if !slices.ContainsFunc(s.PeerAuthentications, func(pa PeerAuthentication) bool {
		return pa.Object.Namespace == d.IstioNamespace && !pa.Selector && pa.Mode == "STRICT"
	}) {
		out = append(out, Finding{Rule: RuleMTLS, Severity: Error,
			Object:  ref.Object{Group: "security.istio.io", Kind: "PeerAuthentication", Namespace: d.IstioNamespace, Name: "default"},
			Problem: fmt.Sprintf("no mesh-wide PeerAuthentication with mode STRICT in the root namespace %s: plain text is accepted", d.IstioNamespace),
			Fix:     fmt.Sprintf("add to the config repo: PeerAuthentication %s/default with spec.mtls.mode STRICT and no selector", d.IstioNamespace)})
	}
	for _, pa := range s.PeerAuthentications {
		if (pa.Mode != "DISABLE" && pa.Mode != "PERMISSIVE") || slices.Contains(d.Exemptions, pa.Object.String()) {
			continue
		}
		scope := "every workload of namespace " + pa.Object.Namespace
		if pa.Selector {
			scope = "the workloads it selects"
		}
		out = append(out, Finding{Rule: RuleMTLS, Severity: Error, Object: pa.Object,
			Problem: fmt.Sprintf("mTLS %s for %s: plain text gets in", pa.Mode, scope),
			Fix:     fmt.Sprintf("set spec.mtls.mode STRICT and open only the ports that need plain text with portLevelMtls, or list it under meshops.postureExemptions as {object: %s, reason: why}", pa.Object)})
	}
	return out
}

// gatewayCredentials: every TLS Secret a Gateway names exists; a missing
// one (Key Vault sync lags) leaves that host without a certificate.
func gatewayCredentials(s *State, _ Desired) []Finding {
	var out []Finding
	for _, g := range s.Gateways {
		for _, c := range g.Credentials {
			switch {
			case c.Present:
				continue
			case c.Unreadable:
				out = append(out, Finding{Rule: RuleGatewayCredential, Severity: Warning, Object: g.Object,
					Problem: fmt.Sprintf("its TLS Secret %s/%s could not be checked: reading Secrets there is forbidden", c.Secret.Namespace, c.Secret.Name),
					Fix:     fmt.Sprintf("run meshops verify with credentials that may get Secrets in %s, or grant meshops get on secrets there (docs/verify.md)", c.Secret.Namespace)})
				continue
			}
			out = append(out, Finding{Rule: RuleGatewayCredential, Severity: Error, Object: g.Object,
				Problem: fmt.Sprintf("its TLS Secret %s/%s does not exist: the gateway serves no certificate for it", c.Secret.Namespace, c.Secret.Name),
				Fix:     fmt.Sprintf("create Secret %s/%s (with Key Vault, check that its sync to the cluster ran) before routing through the gateway changes", c.Secret.Namespace, c.Secret.Name)})
		}
	}
	return out
}

func orUnknown(rev string) string {
	if rev == "" {
		return "an unknown revision"
	}
	return rev
}

func orTag(tag string) string {
	if tag == "" {
		return "<tag>"
	}
	return tag
}

// clipList joins names, keeping a finding readable on a large fleet.
func clipList(names []string) string {
	const max = 5
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}
