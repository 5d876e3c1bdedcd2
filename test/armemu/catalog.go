package armemu

import (
	"slices"
	"strings"

	"github.com/meshops/meshops/mesh"
)

// Revision is one mesh revision the emulated region offers, as the
// location's meshRevisionProfiles list it: the revisions a cluster on it may
// upgrade to, and the Kubernetes minor versions it runs on.
type Revision struct {
	Name string
	// Upgrades are the revisions a canary upgrade may start from this one
	// (AKS offers n+1 and n+2 while both are supported).
	Upgrades []string
	// KubernetesVersions are the compatible Kubernetes minor versions
	// ("1.33"), reported as compatibleWith name "kubernetes".
	KubernetesVersions []string
}

// DefaultKubernetesVersion is the emulated cluster's Kubernetes version: one
// every default revision is compatible with.
const DefaultKubernetesVersion = "1.33.2"

// DefaultRevisions is a realistic catalog around asm-1-27..asm-1-30: each
// revision upgrades to n+1 and n+2, each supports a window of Kubernetes
// minors. The numbers are made up in the shape of the AKS support calendar
// (https://learn.microsoft.com/azure/aks/istio-support-policy), not copied
// from it.
func DefaultRevisions() []Revision {
	return []Revision{
		{Name: "asm-1-27", Upgrades: []string{"asm-1-28", "asm-1-29"}, KubernetesVersions: []string{"1.31", "1.32", "1.33"}},
		{Name: "asm-1-28", Upgrades: []string{"asm-1-29", "asm-1-30"}, KubernetesVersions: []string{"1.31", "1.32", "1.33", "1.34"}},
		{Name: "asm-1-29", Upgrades: []string{"asm-1-30"}, KubernetesVersions: []string{"1.32", "1.33", "1.34"}},
		{Name: "asm-1-30", KubernetesVersions: []string{"1.33", "1.34", "1.35"}},
	}
}

// catalog answers questions about the configured revisions for one
// cluster's Kubernetes version.
type catalog struct {
	revisions  []Revision
	kubeMinor  string // "1.33"
	kubeFullV  string // "1.33.2", for messages
	byNameLC   map[string]Revision
	revPattern mesh.RevisionPattern
}

func newCatalog(revs []Revision, kubernetesVersion string) catalog {
	c := catalog{revisions: revs, kubeFullV: kubernetesVersion, byNameLC: map[string]Revision{}, revPattern: mesh.DefaultPattern()}
	parts := strings.SplitN(kubernetesVersion, ".", 3)
	c.kubeMinor = kubernetesVersion
	if len(parts) >= 2 {
		c.kubeMinor = parts[0] + "." + parts[1]
	}
	for _, r := range revs {
		c.byNameLC[strings.ToLower(r.Name)] = r
	}
	return c
}

// lookup finds a revision by name; ARM compares names case-insensitively.
func (c catalog) lookup(name string) (Revision, bool) {
	r, ok := c.byNameLC[strings.ToLower(name)]
	return r, ok
}

// compatible reports whether rev runs on the cluster's Kubernetes version.
func (c catalog) compatible(r Revision) bool {
	return slices.Contains(r.KubernetesVersions, c.kubeMinor)
}

// upgrades are the revisions a canary may start from name on this cluster:
// the catalog's upgrades that exist and are compatible.
func (c catalog) upgrades(name string) []string {
	r, ok := c.lookup(name)
	if !ok {
		return nil
	}
	var out []string
	for _, u := range r.Upgrades {
		if ur, ok := c.lookup(u); ok && c.compatible(ur) {
			out = append(out, ur.Name)
		}
	}
	return out
}

// defaultRevision is what AKS installs when the mesh is enabled without
// naming a revision: here the newest compatible one.
func (c catalog) defaultRevision() (string, bool) {
	var best string
	for _, r := range c.revisions {
		if c.compatible(r) && (best == "" || c.less(best, r.Name)) {
			best = r.Name
		}
	}
	return best, best != ""
}

// less orders revision names by version (asm-1-9 < asm-1-29); names that do
// not parse sort by name after those that do.
func (c catalog) less(a, b string) bool {
	ra, errA := c.revPattern.Parse(a)
	rb, errB := c.revPattern.Parse(b)
	switch {
	case errA == nil && errB == nil:
		return mesh.Compare(ra, rb) < 0
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}

// sorted returns revs ordered oldest first, the order AKS reports them in.
func (c catalog) sorted(revs []string) []string {
	out := slices.Clone(revs)
	slices.SortFunc(out, func(a, b string) int {
		switch {
		case c.less(a, b):
			return -1
		case c.less(b, a):
			return 1
		}
		return 0
	})
	return out
}
