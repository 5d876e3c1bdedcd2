package configs

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshops/meshops/mesh"
)

// validate checks meshops' own rules over a Config as Load builds it: the
// relations between svc.istio fields, object identity and placement,
// default deny in every mesh namespace, and well-formed AuthorizationPolicy
// sources and providers. (Schemas are the API server's job, by server-side
// dry-run.) It reads the manifests' line trees, which Load releases after
// it; it returns every problem found, sorted, or nil.
func validate(c *Config) Problems {
	var probs Problems
	probs = append(probs, validateIstio(c)...)
	probs = append(probs, validateProvider(c)...)
	probs = append(probs, validateObjects(c)...)
	probs = append(probs, validateDefaultDeny(c)...)
	probs = append(probs, validatePolicies(c)...)
	probs = append(probs, validatePosture(c)...)
	probs.Sort()
	return probs
}

func (c *Config) valuesFile() string {
	if c.istioLines != nil {
		return c.istioLines.file
	}
	return c.Settings.firstValues()
}

// validateIstio checks targetVersion, tag and revision names against each other.
func validateIstio(c *Config) Problems {
	var probs Problems
	// Each field is reported in the values file it was read from (an
	// overlay may set it).
	file, line := c.istioLines.fileOf, c.istioLines.line
	pattern := c.pattern
	if pattern.String() == "" {
		pattern = mesh.DefaultPattern()
	}
	names := c.Istio.VersionNames()
	for _, v := range c.Istio.Versions {
		if !pattern.Matches(v.Name) {
			probs.add(file("svc.istio.versions"), line("svc.istio.versions"), "svc.istio.versions", revisionFix(pattern),
				"revision %q does not match the pattern %q", v.Name, pattern.String())
		}
	}
	ok := c.istioLines.ok
	if t := c.Istio.Target; ok("svc.istio.versions") && !t.IsZero() && len(names) > 0 && !c.Istio.HasVersion(t.Name) {
		probs.add(file("svc.istio.targetVersion"), line("svc.istio.targetVersion"), "svc.istio.targetVersion",
			fmt.Sprintf("set targetVersion to one of %s, or add %s to versions once it is installed", strings.Join(names, ", "), t.Name),
			"targetVersion %q is not one of versions (%s)", t.Name, strings.Join(names, ", "))
	}
	tag := c.Istio.Tag
	if ns := c.Settings.Extensions.Namespaces; tag == "" && len(ns) > 0 && ok("svc.istio.tag") {
		probs.add(file("svc.istio.tag"), line("svc.istio.tag"), "svc.istio.tag", `set svc.istio.tag, e.g. tag: "prod-stable"`,
			"no tag, but meshops.namespaces lists %s to be labelled istio.io/rev=<tag>", strings.Join(ns, ", "))
	}
	if tag != "" {
		if errs := validation.IsDNS1123Label(tag); len(errs) > 0 {
			probs.add(file("svc.istio.tag"), line("svc.istio.tag"), "svc.istio.tag", "use lowercase letters, digits and '-', e.g. prod-stable",
				"tag %q is not valid (it names the webhook istio-revision-tag-<tag>): %s", tag, errs[0])
		}
		if slices.Contains(names, tag) || tag == c.Istio.Target.Name || pattern.Matches(tag) {
			probs.add(file("svc.istio.tag"), line("svc.istio.tag"), "svc.istio.tag", "choose a tag that is not a revision name, e.g. prod-stable",
				"tag %q is a revision name: namespaces labelled with it would bind to that revision, not follow the tag", tag)
		}
	}
	return probs
}

// objectKey identifies an object as the API server does: group, kind,
// namespace, name (v1 and v1beta1 of a kind are the same object).
func objectKey(m Manifest) string {
	gk := m.GroupKind()
	return gk.Group + "/" + gk.Kind + "/" + m.GetNamespace() + "/" + m.GetName()
}

// validateObjects checks namespaces, ConfigMap placement and duplicates.
func validateObjects(c *Config) Problems {
	var probs Problems
	system := c.Settings.Extensions.IstioSystemNamespace
	first := map[string]Manifest{}
	for _, m := range c.Manifests {
		file := m.Source.File
		ns := m.GetNamespace()
		if ns == "" {
			probs.add(file, m.line("metadata"), "metadata.namespace",
				fmt.Sprintf("add metadata.namespace to %s/%s: meshops does not default it, since the namespace decides what a policy guards", m.GroupKind().Kind, m.GetName()),
				"%s/%s has no namespace, and %s is namespaced", m.GroupKind().Kind, m.GetName(), m.GroupKind().Kind)
		} else if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			probs.add(file, m.line("metadata", "namespace"), "metadata.namespace", "use a valid namespace name",
				"%q is not a valid namespace name: %s", ns, errs[0])
		}
		if m.GroupKind() == configMapGK {
			if ns != "" && ns != system {
				probs.add(file, m.line("metadata", "namespace"), "metadata.namespace",
					"move it to "+system+" or deploy it another way",
					"ConfigMap %s/%s: meshops manages ConfigMaps only in the Istio system namespace %s", ns, m.GetName(), system)
			}
			if rev, ok := mesh.RevisionOfSharedConfigMap(m.GetName()); ok {
				if names := c.Istio.VersionNames(); c.istioLines.ok("svc.istio.versions") && len(names) > 0 && !slices.Contains(names, rev) {
					probs.add(file, m.line("metadata", "name"), "metadata.name",
						"remove it, or add "+rev+" to svc.istio.versions",
						"ConfigMap %s is for revision %s, which is not in svc.istio.versions (%s): it would be applied and pruned at once",
						m.GetName(), rev, strings.Join(names, ", "))
				}
				if l, ok := m.GetLabels()[mesh.RevisionLabel]; ok && l != rev {
					probs.add(file, m.line("metadata", "labels", mesh.RevisionLabel), "metadata.labels."+mesh.RevisionLabel,
						"label it "+mesh.RevisionLabel+": "+rev+" (write {{ .Revision }} in both places)",
						"ConfigMap %s is labelled for revision %q but named for %q", m.GetName(), l, rev)
				}
			}
		}
		key := objectKey(m)
		if prev, dup := first[key]; dup {
			fix := "rename or remove one of them"
			if prev.Source.File == m.Source.File && prev.Source.Document == m.Source.Document {
				fix = "this document is rendered once per revision: put {{ .Revision }} in metadata.name"
			}
			probs.add(file, m.line("metadata", "name"), "metadata.name", fix,
				"%s is defined twice: also at %s", m.ID(), prev.Source)
			continue
		}
		first[key] = m
	}
	return probs
}

// IsDefaultDeny reports whether an AuthorizationPolicy is the
// "allow-nothing" default deny: an ALLOW policy with an empty spec, which
// selects every workload of the namespace and allows nothing, so only the
// other ALLOW policies let traffic in. A selector or targetRef would limit
// it to some workloads, and rules would allow something: neither is default
// deny. Validation and the plan's ordering (ALLOW policies before the deny)
// both ask this one function.
func IsDefaultDeny(m Manifest) bool { return m.policy.defaultDeny }

// factsOf decides the policy facts of an object of kind gk: the rules of
// this file, asked once when the manifest is built.
func factsOf(gk schema.GroupKind, obj map[string]any) policyFacts {
	switch gk {
	case authorizationPolicyGK:
		action, _, _ := unstructuredString(obj, "spec", "action")
		return policyFacts{defaultDeny: defaultDenySpec(obj), allowAll: allowAllSpec(obj), allows: action == "" || action == "ALLOW"}
	case peerAuthenticationGK:
		return policyFacts{weakMTLS: weakMTLSSpec(obj)}
	}
	return policyFacts{}
}

// defaultDenySpec is IsDefaultDeny's rule, on an AuthorizationPolicy.
func defaultDenySpec(obj map[string]any) bool {
	spec, found := obj["spec"]
	if !found || spec == nil {
		return true
	}
	s, ok := spec.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range s {
		switch k {
		case "action":
			if v != "ALLOW" {
				return false
			}
		case "rules":
			if l, ok := v.([]any); v != nil && (!ok || len(l) > 0) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// isAllowAll reports whether an AuthorizationPolicy allows every request to
// the workloads it applies to: an ALLOW policy with a rule that matches
// anything (no from, to or when, or sources that are all "*"). In the root
// namespace such a policy applies to the whole mesh, and since any ALLOW
// match admits a request, it cancels every namespace's default deny.
func isAllowAll(m Manifest) bool { return m.policy.allowAll }

// allowAllSpec is isAllowAll's rule, on an AuthorizationPolicy.
func allowAllSpec(obj map[string]any) bool {
	spec, _ := obj["spec"].(map[string]any)
	if a, _ := spec["action"].(string); a != "" && a != "ALLOW" {
		return false
	}
	rules, _ := spec["rules"].([]any)
	return slices.ContainsFunc(rules, ruleMatchesAll)
}

// ruleMatchesAll reports whether one rule of an ALLOW policy matches any
// request.
func ruleMatchesAll(r any) bool {
	if r == nil {
		return true
	}
	rule, ok := r.(map[string]any)
	if !ok {
		return false
	}
	empty := func(v any) bool { l, _ := v.([]any); return v == nil || (l != nil && len(l) == 0) }
	if !empty(rule["to"]) || !empty(rule["when"]) {
		return false
	}
	from, _ := rule["from"].([]any)
	for _, f := range from {
		fm, _ := f.(map[string]any)
		src, _ := fm["source"].(map[string]any)
		for k, v := range src {
			l, _ := v.([]any)
			if (k != "principals" && k != "namespaces") || len(l) != 1 || l[0] != "*" {
				return false
			}
		}
	}
	return true
}

// weakMTLS returns the mode of a PeerAuthentication that lets plain text
// in (DISABLE or PERMISSIVE), for the whole workload or a port; "" if none.
func weakMTLS(m Manifest) string { return m.policy.weakMTLS }

// weakMTLSSpec is weakMTLS's rule, on a PeerAuthentication.
func weakMTLSSpec(obj map[string]any) string {
	weak := func(mode string) bool { return mode == "DISABLE" || mode == "PERMISSIVE" }
	if mode, _, _ := unstructuredString(obj, "spec", "mtls", "mode"); weak(mode) {
		return mode
	}
	ports, _, _ := unstructured.NestedMap(obj, "spec", "portLevelMtls")
	for _, p := range slices.Sorted(maps.Keys(ports)) {
		if mode, _, _ := unstructuredString(ports, p, "mode"); weak(mode) {
			return mode + " on port " + p
		}
	}
	return ""
}

// systemNamespaces may never join the mesh through meshops.namespaces:
// injecting sidecars into the cluster's own components, or the control
// plane's, breaks the cluster or the mesh itself. The ingress gateway's
// namespace is not one: the gateway runs a proxy by design.
func systemNamespaces(e Extensions) []string {
	return []string{"kube-system", "kube-public", "kube-node-lease", e.IstioSystemNamespace}
}

// validatePosture refuses what weakens the mesh for everyone: manifests
// that overwrite the control plane's own objects (mesh.IstiodObject),
// ALLOW-all and plain-text mTLS in the root namespace (the Istio system
// namespace, whose policies apply mesh-wide) unless exempted with a
// reason, and system namespaces listed for injection.
func validatePosture(c *Config) Problems {
	var probs Problems
	ext := c.Settings.Extensions
	root := ext.IstioSystemNamespace
	settingsFile := ""
	if c.settingsLines != nil {
		settingsFile = c.settingsLines.file
	}
	itemLine := func(lines []int, i int, path ...string) int {
		if c.settingsLines != nil && i < len(lines) {
			return lines[i]
		}
		return c.settingsLines.line(path...)
	}
	exempt := map[string]bool{}
	for i, x := range ext.PostureExemptions {
		var lines []int
		if c.settingsLines != nil {
			lines = c.settingsLines.postureExemptions
		}
		field := indexPath("meshops.postureExemptions", i)
		line := itemLine(lines, i, "meshops", "postureExemptions")
		switch {
		case x.Object == "":
			probs.add(settingsFile, line, field+".object", "name the object as Kind/namespace/name, e.g. PeerAuthentication/"+root+"/default",
				"a posture exemption needs an object")
		case x.Reason == "":
			probs.add(settingsFile, line, field+".reason", "say why "+clip(x.Object)+" may weaken the whole mesh",
				"a posture exemption needs a reason")
		default:
			exempt[x.Object] = true
		}
	}
	for _, m := range c.Manifests {
		file := m.Source.File
		if why, ok := mesh.IstiodObject(m.GroupKind(), m.GetName(), m.GetLabels()); ok {
			probs.add(file, m.line("metadata", "name"), "metadata.name",
				"remove it: the control plane writes it, and meshops never overwrites it; put mesh config in "+mesh.SharedConfigMapName("<rev>"),
				"refused: %s is the control plane's own: %s", m.ID(), why)
		}
		if m.GetNamespace() != root || root == "" || exempt[m.ID()] {
			continue
		}
		fix := fmt.Sprintf("move it out of %s, narrow it, or list it under meshops.postureExemptions in meshops.yaml as {object: %s, reason: why}", root, m.ID())
		if isAllowAll(m) {
			probs.add(file, m.line("spec"), "spec.rules", fix,
				"refused: %s allows every request: in the root namespace %s it applies to the whole mesh and cancels every namespace's default deny", m.ID(), root)
		}
		if mode := weakMTLS(m); mode != "" {
			probs.add(file, m.line("spec"), "spec.mtls.mode", fix,
				"refused: %s sets mTLS %s in the root namespace %s, which lets plain text into the whole mesh", m.ID(), mode, root)
		}
	}
	system := systemNamespaces(ext)
	for i, ns := range ext.Namespaces {
		if !slices.Contains(system, ns) {
			continue
		}
		var lines []int
		if c.settingsLines != nil {
			lines = c.settingsLines.namespaces
		}
		probs.add(settingsFile, itemLine(lines, i, "meshops", "namespaces"), indexPath("meshops.namespaces", i),
			"remove "+ns+": meshops labels only application namespaces for injection",
			"refused: %s is a system namespace (%s); injecting sidecars there breaks the cluster or the control plane", ns, strings.Join(system, ", "))
	}
	return probs
}

// meshNamespace is a namespace that needs default deny, and where it was
// first seen.
type meshNamespace struct {
	file, field string
	line        int
	allows      int // ALLOW policies with a selector, for the message
}

// validateDefaultDeny checks that every mesh namespace — one carrying any
// manifest or listed to be labelled — has an allow-nothing policy, unless
// exempt.
func validateDefaultDeny(c *Config) Problems {
	if c.noManifests {
		return nil
	}
	var probs Problems
	ext := c.Settings.Extensions
	exempt := map[string]bool{ext.IstioSystemNamespace: true, ext.IngressGatewayNamespace: true}
	for _, x := range ext.DefaultDenyExemptions {
		if x.Reason != "" {
			exempt[x.Namespace] = true
		}
	}
	namespaces := map[string]*meshNamespace{}
	denied := map[string]bool{}
	for _, m := range c.Manifests {
		ns := m.GetNamespace()
		if ns == "" {
			continue
		}
		if namespaces[ns] == nil {
			namespaces[ns] = &meshNamespace{file: m.Source.File, line: m.line("metadata", "namespace"), field: "metadata.namespace"}
		}
		if IsDefaultDeny(m) {
			denied[ns] = true
		} else if m.policy.allows {
			namespaces[ns].allows++
		}
	}
	for i, ns := range ext.Namespaces {
		if namespaces[ns] != nil {
			continue
		}
		line := c.settingsLines.line("meshops", "namespaces")
		if c.settingsLines != nil && i < len(c.settingsLines.namespaces) {
			line = c.settingsLines.namespaces[i]
		}
		file := ""
		if c.settingsLines != nil {
			file = c.settingsLines.file
		}
		namespaces[ns] = &meshNamespace{file: file, line: line, field: indexPath("meshops.namespaces", i)}
	}
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		if exempt[ns] || denied[ns] {
			continue
		}
		at := namespaces[ns]
		msg := fmt.Sprintf("namespace %s has no default-deny AuthorizationPolicy (an ALLOW policy with an empty spec)", ns)
		if at.allows > 0 {
			msg += fmt.Sprintf("; its %d ALLOW policies do not replace it: one with a selector or rules guards only what it names", at.allows)
		}
		probs.add(at.file, at.line, at.field,
			fmt.Sprintf("add an AuthorizationPolicy named allow-nothing in %s with spec: {}, or list %s under meshops.defaultDenyExemptions in meshops.yaml with a reason", ns, ns),
			"%s", msg)
	}
	return probs
}

// unstructuredString reads a string field of an object.
func unstructuredString(obj map[string]any, path ...string) (string, bool, bool) {
	var cur any = obj
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, false
		}
		if cur, ok = m[k]; !ok {
			return "", false, true
		}
	}
	s, ok := cur.(string)
	return s, true, ok
}

// validatePolicies checks that the provider of every CUSTOM
// AuthorizationPolicy is declared. The rest of each policy's spec was checked
// as it was read (checkSchema for fields, types and enums such as actions
// and mTLS modes, checkPolicySpec for sources), since those rules need
// nothing else of the repo.
func validatePolicies(c *Config) Problems {
	var probs Problems
	providers, ps := declaredProviders(c)
	probs = append(probs, ps...)
	// Without usable versions the per-revision mesh config was not
	// rendered, so no provider can be checked.
	if !c.istioLines.ok("svc.istio.versions") {
		return probs
	}
	for _, m := range c.Manifests {
		if m.provider != nil {
			r := &fieldReader{file: m.Source.File}
			checkProvider(r, c, m.provider.line, m.provider.name, providers)
			probs = append(probs, r.probs...)
		}
	}
	return probs
}

// providerRef is the ext-authz provider a CUSTOM AuthorizationPolicy names,
// and its line, for validatePolicies.
type providerRef struct {
	name string
	line int
}

// checkPolicySpec checks the rules of an AuthorizationPolicy's spec that
// its schema does not know (principals, the provider), and returns the provider a CUSTOM
// AuthorizationPolicy names, which only the whole repo can check.
func checkPolicySpec(r *fieldReader, gk schema.GroupKind, spec *node) *providerRef {
	switch gk {
	case authorizationPolicyGK:
		return checkAuthorizationPolicy(r, spec)
	}
	return nil
}

// declaredProviders returns the extension providers each revision's mesh
// config declares: those of the values' svc.istio.meshConfig plus those of
// the revision's shared ConfigMap.
func declaredProviders(c *Config) (map[string][]string, Problems) {
	var probs Problems
	out := map[string][]string{}
	for _, m := range c.Manifests {
		if m.GroupKind() != configMapGK || m.GetNamespace() != c.Settings.Extensions.IstioSystemNamespace {
			continue
		}
		rev, ok := mesh.RevisionOfSharedConfigMap(m.GetName())
		if !ok {
			continue
		}
		names, ps := meshConfigOf(c.budget, m)
		probs = append(probs, ps...)
		out[rev] = append(out[rev], names...)
	}
	return out, probs
}

func checkAuthorizationPolicy(r *fieldReader, spec *node) (provider *providerRef) {
	if spec.isNull() {
		return nil
	}
	if spec.kind != mapNode {
		r.wrongType(spec, "spec", "a mapping", "write spec: {} for default deny, or spec with action and rules")
		return nil
	}
	action := "ALLOW"
	if a := spec.get("action"); a != nil {
		action = ""
		// Its values are the schema's to check (schema.go).
		r.str(a, "spec.action", &action)
	}
	providerName := spec.at("provider", "name")
	switch {
	case action == "CUSTOM" && providerName.isNull():
		r.probs.add(r.file, spec.lineAt("provider"), "spec.provider.name",
			"name the ext-authz provider: provider: {name: ext-authz}", "a CUSTOM policy must name a provider")
	case action == "CUSTOM":
		var name string
		r.str(providerName, "spec.provider.name", &name)
		if name != "" {
			provider = &providerRef{name: name, line: providerName.line}
		}
	case spec.get("provider") != nil && action != "":
		r.probs.add(r.file, spec.lineAt("provider"), "spec.provider",
			"set action: CUSTOM, or remove the provider", "a provider is only used with action CUSTOM, but action is %s", action)
	}

	rules := spec.get("rules")
	if rules.isNull() {
		return provider
	}
	if rules.kind != listNode {
		r.wrongType(rules, "spec.rules", "a list of rules", "write rules as a list: - from: ...")
		return provider
	}
	for i, rule := range rules.items {
		rf := indexPath("spec.rules", i)
		if rule.isNull() {
			continue
		}
		if rule.kind != mapNode {
			r.wrongType(rule, rf, "a rule mapping (from, to, when)", "write - from: ... to: ...")
			continue
		}
		from := rule.get("from")
		if from.isNull() {
			continue
		}
		if from.kind != listNode {
			r.wrongType(from, rf+".from", "a list of sources", "write from: [- source: {...}]")
			continue
		}
		for j, f := range from.items {
			ff := indexPath(rf+".from", j)
			if f.kind != mapNode {
				r.wrongType(f, ff, "a mapping with source", "write - source: {principals: [...]}")
				continue
			}
			src := f.get("source")
			if src.isNull() {
				continue
			}
			if src.kind != mapNode {
				r.wrongType(src, ff+".source", "a mapping", "write source: {principals: [...]}")
				continue
			}
			for _, key := range []string{"principals", "notPrincipals"} {
				checkList(r, src.get(key), ff+".source."+key, checkPrincipal,
					"write the workload identity as <trust-domain>/ns/<namespace>/sa/<service-account>, e.g. cluster.local/ns/aro-hcp/sa/frontend")
			}
			for _, key := range []string{"namespaces", "notNamespaces"} {
				checkList(r, src.get(key), ff+".source."+key, checkNamespaceRef,
					`name a namespace (e.g. aks-istio-ingress), "*", or a prefix/suffix with one "*"`)
			}
		}
	}
	return provider
}

// checkList checks every string of a list with check.
func checkList(r *fieldReader, n *node, field string, check func(string) string, fix string) {
	values, lines := r.stringList(n, field)
	for i, v := range values {
		if why := check(v); why != "" {
			r.probs.add(r.file, lines[i], indexPath(field, i), fix, "%q: %s", v, why)
		}
	}
}

// checkProvider checks that a CUSTOM policy's provider is declared for every
// revision in versions: workloads stay on older revisions until restarted,
// and a revision that lacks the provider rejects every request the policy
// guards.
func checkProvider(r *fieldReader, c *Config, line int, name string, providers map[string][]string) {
	revs := c.Istio.VersionNames()
	if len(revs) == 0 {
		revs = slices.Sorted(maps.Keys(providers))
		if len(revs) == 0 {
			revs = []string{""}
		}
	}
	var missing, declared []string
	for _, rev := range revs {
		have := append(slices.Clone(c.Istio.ExtensionProviders), providers[rev]...)
		if !slices.Contains(have, name) {
			missing = append(missing, rev)
			declared = append(declared, have...)
		}
	}
	if len(missing) == 0 {
		return
	}
	slices.Sort(declared)
	declared = slices.Compact(declared)
	have := "none"
	if len(declared) > 0 {
		have = strings.Join(declared, ", ")
	}
	where := "the mesh config"
	fix := "declare it under extensionProviders in the mesh key of " + mesh.SharedConfigMapName("<rev>") + " (or svc.istio.meshConfig), or fix the name"
	if missing[0] != "" {
		where = "the mesh config of revision " + strings.Join(missing, ", ")
		if len(missing) > 1 {
			where = "the mesh config of revisions " + strings.Join(missing, ", ")
		}
		fix = "declare it under extensionProviders in the mesh key of " + mesh.SharedConfigMapName(missing[0]) + " (write the ConfigMap once for all revisions with {{ .Revision }}), or fix the name"
	}
	r.probs.add(r.file, line, "spec.provider.name", fix,
		"provider %q is not declared in %s (declared there: %s)", name, where, have)
}
