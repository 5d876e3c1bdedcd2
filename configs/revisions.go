package configs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshops/meshops/revisions"
)

// Revisions is meshops.revisions in meshops.yaml: who installs the
// control-plane revisions and how the AKS provider completes a canary.
type Revisions struct {
	// Provider installs and removes revisions: external (someone else;
	// the default) or aks (meshops, through ARM).
	Provider revisions.Provider `json:"provider"`
	// CompleteAfter is the soak time between a canary's start and its
	// complete (the old revision removed); 0 completes once verify passed.
	CompleteAfter time.Duration `json:"completeAfter"`
	// OnDowngrade is what to do when the desired revision is older than an
	// installed one: refuse (the default) or rollback.
	OnDowngrade revisions.DowngradePolicy `json:"onDowngrade"`
	// AKS says where the AKS provider finds the cluster.
	AKS AKSRefs `json:"aks,omitzero"`
}

// AKSRefs name the managed cluster: each field literal, or read from the
// layered values by a dotted path (ARO HCP: clusterFromValue: svc.aks.name,
// resourceGroupFromValue: svc.rg).
type AKSRefs struct {
	SubscriptionID ValueRef `json:"subscriptionId,omitzero"`
	ResourceGroup  ValueRef `json:"resourceGroup,omitzero"`
	Cluster        ValueRef `json:"cluster,omitzero"`
}

// ValueRef is a setting given either as a literal or as the path of a value.
type ValueRef struct {
	Literal   string `json:"value,omitempty"`
	FromValue string `json:"fromValue,omitempty"`
}

// AKSCluster is the managed cluster named by meshops.revisions.aks,
// resolved against the values. A field is empty when meshops.yaml does not
// name it.
type AKSCluster struct {
	SubscriptionID string `json:"subscriptionId,omitempty"`
	ResourceGroup  string `json:"resourceGroup,omitempty"`
	Name           string `json:"name,omitempty"`
}

// Defaults of meshops.revisions; the table in README.md lists the same.
const (
	DefaultRevisionsProvider = revisions.ProviderExternal
	DefaultCompleteAfter     = time.Duration(0)
	DefaultOnDowngrade       = revisions.DowngradeRefuse
)

// DefaultRevisions returns meshops.revisions when meshops.yaml leaves it out.
func DefaultRevisions() Revisions {
	return Revisions{Provider: DefaultRevisionsProvider, CompleteAfter: DefaultCompleteAfter, OnDowngrade: DefaultOnDowngrade}
}

// revisionsJSON is Revisions with the soak as text ("1h0m0s").
type revisionsJSON struct {
	Provider      revisions.Provider        `json:"provider"`
	CompleteAfter string                    `json:"completeAfter"`
	OnDowngrade   revisions.DowngradePolicy `json:"onDowngrade"`
	AKS           AKSRefs                   `json:"aks,omitzero"`
}

// MarshalJSON writes the soak as text, e.g. "1h0m0s".
func (r Revisions) MarshalJSON() ([]byte, error) {
	return json.Marshal(revisionsJSON{Provider: r.Provider, CompleteAfter: r.CompleteAfter.String(), OnDowngrade: r.OnDowngrade, AKS: r.AKS})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Revisions) UnmarshalJSON(b []byte) error {
	var j revisionsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Revisions{Provider: j.Provider, OnDowngrade: j.OnDowngrade, AKS: j.AKS}
	if j.CompleteAfter != "" {
		d, err := time.ParseDuration(j.CompleteAfter)
		if err != nil {
			return fmt.Errorf("revisions.completeAfter: %w", err)
		}
		out.CompleteAfter = d
	}
	*r = out
	return nil
}

// aksFields are the keys of meshops.revisions.aks: each setting as a
// literal and as a path into the values.
var aksFields = []struct {
	key string
	ref func(*AKSRefs) *ValueRef
}{
	{"subscriptionId", func(a *AKSRefs) *ValueRef { return &a.SubscriptionID }},
	{"resourceGroup", func(a *AKSRefs) *ValueRef { return &a.ResourceGroup }},
	{"cluster", func(a *AKSRefs) *ValueRef { return &a.Cluster }},
}

// decodeRevisions reads meshops.revisions.
func decodeRevisions(r *fieldReader, n *node, out *Revisions) {
	if !r.mapping(n, "meshops.revisions", "provider", "completeAfter", "onDowngrade", "aks") {
		return
	}
	var s string
	if r.str(n.get("provider"), "meshops.revisions.provider", &s); s != "" {
		out.Provider = revisions.Provider(s)
	}
	r.duration(n.get("completeAfter"), "meshops.revisions.completeAfter", &out.CompleteAfter)
	s = ""
	if r.str(n.get("onDowngrade"), "meshops.revisions.onDowngrade", &s); s != "" {
		out.OnDowngrade = revisions.DowngradePolicy(s)
	}
	aks := n.get("aks")
	var keys []string
	for _, f := range aksFields {
		keys = append(keys, f.key, f.key+"FromValue")
	}
	if !r.mapping(aks, "meshops.revisions.aks", keys...) {
		return
	}
	for _, f := range aksFields {
		ref := f.ref(&out.AKS)
		r.str(aks.get(f.key), "meshops.revisions.aks."+f.key, &ref.Literal)
		r.str(aks.get(f.key+"FromValue"), "meshops.revisions.aks."+f.key+"FromValue", &ref.FromValue)
	}
}

// checkRevisions checks meshops.revisions once overrides are applied.
func checkRevisions(s Settings, lines *settingsLines) Problems {
	var probs Problems
	file := lines.file
	rv := s.Extensions.Revisions
	if !slices.Contains(revisions.Providers, rv.Provider) {
		probs.add(file, lines.line("meshops", "revisions", "provider"), "meshops.revisions.provider",
			"use external (someone else installs revisions) or aks (meshops drives the AKS add-on through ARM)",
			"unknown provider %q", rv.Provider)
	}
	if !slices.Contains(revisions.DowngradePolicies, rv.OnDowngrade) {
		probs.add(file, lines.line("meshops", "revisions", "onDowngrade"), "meshops.revisions.onDowngrade",
			"use refuse (block and say so) or rollback (roll the mesh back while the newer revision is a canary)",
			"unknown downgrade policy %q", rv.OnDowngrade)
	}
	if rv.CompleteAfter < 0 {
		probs.add(file, lines.line("meshops", "revisions", "completeAfter"), "meshops.revisions.completeAfter",
			"set 0 to complete once verified, or a soak time such as 1h", "expected a duration of 0 or more, got %s", rv.CompleteAfter)
	}
	for _, f := range aksFields {
		ref := f.ref(&rv.AKS)
		if ref.Literal != "" && ref.FromValue != "" {
			field := "meshops.revisions.aks." + f.key
			probs.add(file, lines.line("meshops", "revisions", "aks", f.key+"FromValue"), field+"FromValue",
				"keep either "+f.key+" or "+f.key+"FromValue",
				"%s is given twice: as %q and from the value %s", f.key, ref.Literal, ref.FromValue)
		}
		if ref.FromValue != "" && !isValuePath(ref.FromValue) {
			probs.add(file, lines.line("meshops", "revisions", "aks", f.key+"FromValue"), "meshops.revisions.aks."+f.key+"FromValue",
				"write the path of a value as dotted keys, e.g. svc.aks.name", "%q is not a path of keys", ref.FromValue)
		}
	}
	return probs
}

// isValuePath reports whether p is a dotted path of non-empty keys.
func isValuePath(p string) bool {
	return !slices.Contains(strings.Split(p, "."), "")
}

// resolveAKS reads the cluster's subscription, resource group and name from
// meshops.revisions.aks, following the fromValue paths into the values.
func resolveAKS(v *Values, s Settings, lines *settingsLines) (AKSCluster, Problems) {
	var (
		out   AKSCluster
		probs Problems
	)
	dst := map[string]*string{"subscriptionId": &out.SubscriptionID, "resourceGroup": &out.ResourceGroup, "cluster": &out.Name}
	for _, f := range aksFields {
		ref := *f.ref(&s.Extensions.Revisions.AKS)
		if ref.FromValue == "" || !isValuePath(ref.FromValue) {
			// A bad path is reported by checkRevisions.
			*dst[f.key] = ref.Literal
			continue
		}
		field := "meshops.revisions.aks." + f.key + "FromValue"
		at := lines.line("meshops", "revisions", "aks", f.key+"FromValue")
		n, err := v.lookupNode(strings.Split(ref.FromValue, ".")...)
		switch {
		case err != nil:
			p := err.(Problem)
			p.Message = fmt.Sprintf("%s names %s, which cannot be read: %s", field, ref.FromValue, p.Message)
			probs = append(probs, p)
		case n == nil:
			probs.add(lines.file, at, field, "name a value the values files set for this cluster (e.g. svc.aks.name), or give "+f.key+" literally",
				"no value at %s in %s for %s", ref.FromValue, strings.Join(v.Files(), ", "), s.Context)
		default:
			str, ok := n.scalar.(string)
			if n.kind != scalarNode || !ok || str == "" {
				probs.add(v.fileOf(n), n.line, ref.FromValue, "point "+field+" at a string value, or give "+f.key+" literally",
					"%s (named by %s) is %s, not a non-empty string", ref.FromValue, field, n.describe())
				continue
			}
			*dst[f.key] = str
		}
	}
	return out, probs
}

// validateProvider checks the config against what the revision provider
// can do: AKS keeps at most two revisions installed.
func validateProvider(c *Config) Problems {
	var probs Problems
	if c.Settings.Extensions.Revisions.Provider == revisions.ProviderAKS && len(c.Istio.Versions) > 2 {
		probs.add(c.istioLines.fileOf("svc.istio.versions"), c.istioLines.line("svc.istio.versions"), "svc.istio.versions",
			"list at most two revisions: the one installed and the one to move to",
			"versions lists %d revisions but meshops.revisions.provider is aks, and AKS keeps at most two installed", len(c.Istio.Versions))
	}
	return probs
}

// DesiredRevisions is what the config asks of the revision provider: the
// shape of versions, the target, the listed revisions, the downgrade
// policy and the soak. The caller adds the in-cluster facts (Now, verify,
// the workloads per revision, the tag, a failed rollout, when the canary
// started) before revisions.Decide.
func (c *Config) DesiredRevisions() revisions.Desired {
	rv := c.Settings.Extensions.Revisions
	return revisions.Desired{
		Shape:         c.Istio.Shape,
		Target:        c.Istio.Target,
		Versions:      slices.Clone(c.Istio.Versions),
		OnDowngrade:   rv.OnDowngrade,
		CompleteAfter: rv.CompleteAfter,
	}
}
