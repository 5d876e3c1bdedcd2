package aks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/revisions"
)

// Observe reads the cluster's revisions, provisioning state and Kubernetes
// version, and what it may move to: the upgrades its mesh upgrade profile
// lists (or, with no mesh, the location's revisions for its Kubernetes
// version), and why the location's other revisions are out of reach.
//
// pending is the operation the caller recorded as started (SetRevisions'
// result, kept in meshops' state record), or nil. While the cluster is
// still busy it becomes State.Operation, so revisions.Decide resumes it;
// once the cluster settled it is over and dropped.
func (c *Client) Observe(ctx context.Context, pending *revisions.Operation) (revisions.State, error) {
	resp, err := c.clusters.Get(ctx, c.opts.ResourceGroup, c.opts.Cluster, nil)
	if err != nil {
		return revisions.State{}, fmt.Errorf("%s: read the managed cluster: %w", c.id, describe(err, actionRead))
	}
	mc := resp.ManagedCluster
	st := revisions.State{Cluster: c.id}
	if p := mc.Properties; p != nil {
		st.ProvisioningState = deref(p.ProvisioningState)
		st.KubernetesVersion = deref(p.CurrentKubernetesVersion)
		if st.KubernetesVersion == "" {
			st.KubernetesVersion = deref(p.KubernetesVersion)
		}
		if sm := p.ServiceMeshProfile; sm != nil && deref(sm.Mode) == armcontainerservice.ServiceMeshModeIstio {
			st.MeshEnabled = true
			if sm.Istio != nil {
				for _, name := range sm.Istio.Revisions {
					rev, err := c.opts.RevisionPattern.Parse(deref(name))
					if err != nil {
						return revisions.State{}, fmt.Errorf("%s: installed revision: %w (fix meshops.revisionPattern)", c.id, err)
					}
					st.Installed = append(st.Installed, rev)
				}
				mesh.SortRevisions(st.Installed)
			}
		}
	}
	if pending != nil && busy(st.ProvisioningState) {
		st.Operation = pending
	}

	catalog, err := c.revisionProfiles(ctx, deref(mc.Location))
	if err != nil {
		return revisions.State{}, err
	}
	var upgrades map[string][]string // installed revision → its upgrades
	if st.MeshEnabled && len(st.Installed) > 0 {
		if upgrades, err = c.upgradeProfiles(ctx); err != nil {
			return revisions.State{}, err
		}
	}
	st.Available, st.Unavailable = availability(st, catalog, upgrades, c.opts.RevisionPattern)
	return st, nil
}

// busy reports whether a provisioning state means an operation runs.
func busy(state string) bool {
	switch state {
	case revisions.ProvisioningSucceeded, revisions.ProvisioningFailed, revisions.ProvisioningCanceled:
		return false
	}
	return true
}

// offered is one revision of the location's catalog.
type offered struct {
	name       string
	upgrades   []string
	kubernetes []string // compatible Kubernetes minors, "1.33"
}

// revisionProfiles lists the revisions the location offers.
func (c *Client) revisionProfiles(ctx context.Context, location string) ([]offered, error) {
	location = strings.ToLower(strings.ReplaceAll(location, " ", ""))
	var out []offered
	pager := c.clusters.NewListMeshRevisionProfilesPager(location, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: list the mesh revisions of location %s: %w", c.id, location, describe(err, actionRevisionProfiles))
		}
		for _, p := range page.Value {
			if p == nil || !strings.EqualFold(deref(p.Name), meshMode) || p.Properties == nil {
				continue
			}
			for _, r := range p.Properties.MeshRevisions {
				if r == nil || r.Revision == nil {
					continue
				}
				out = append(out, offered{name: *r.Revision, upgrades: strs(r.Upgrades), kubernetes: kubernetesVersions(r.CompatibleWith)})
			}
		}
	}
	return out, nil
}

// upgradeProfiles lists, per installed revision, the revisions AKS offers as
// its upgrades on this cluster.
func (c *Client) upgradeProfiles(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	pager := c.clusters.NewListMeshUpgradeProfilesPager(c.opts.ResourceGroup, c.opts.Cluster, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: list the mesh upgrade profiles: %w", c.id, describe(err, actionUpgradeProfiles))
		}
		for _, p := range page.Value {
			if p == nil || p.Properties == nil || p.Properties.Revision == nil {
				continue
			}
			out[*p.Properties.Revision] = strs(p.Properties.Upgrades)
		}
	}
	return out, nil
}

// availability says what the cluster may move to and why the rest of the
// catalog is out of reach.
func availability(st revisions.State, catalog []offered, upgrades map[string][]string, pattern mesh.RevisionPattern) ([]string, []revisions.Unavailable) {
	var (
		avail []string
		why   []revisions.Unavailable
		minor = kubernetesMinor(st.KubernetesVersion)
	)
	installed := make([]string, len(st.Installed))
	for i, r := range st.Installed {
		installed[i] = r.Name
	}
	if len(installed) > 0 {
		for _, rev := range installed {
			for _, u := range upgrades[rev] {
				if !slices.Contains(avail, u) && !slices.Contains(installed, u) {
					avail = append(avail, u)
				}
			}
		}
	}
	for _, o := range catalog {
		if slices.Contains(installed, o.name) || slices.Contains(avail, o.name) {
			continue
		}
		switch {
		case minor != "" && len(o.kubernetes) > 0 && !slices.Contains(o.kubernetes, minor):
			why = append(why, revisions.Unavailable{Revision: o.name,
				Reason: fmt.Sprintf("runs on Kubernetes %s, the cluster runs %s", strings.Join(o.kubernetes, ", "), st.KubernetesVersion)})
		case len(installed) == 0:
			avail = append(avail, o.name)
		case older(pattern, o.name, st.Installed[0]):
			why = append(why, revisions.Unavailable{Revision: o.name,
				Reason: fmt.Sprintf("older than installed %s: AKS upgrades only forward", installed[0])})
		default:
			offers := "none"
			if u := upgrades[installed[0]]; len(u) > 0 {
				offers = strings.Join(u, ", ")
			}
			why = append(why, revisions.Unavailable{Revision: o.name,
				Reason: fmt.Sprintf("not an upgrade AKS offers from %s (it offers %s: n+1 or n+2 on this Kubernetes version)", installed[0], offers)})
		}
	}
	return avail, why
}

// older reports whether name is an older revision than r; a name that
// does not parse is not known to be older.
func older(pattern mesh.RevisionPattern, name string, r mesh.Revision) bool {
	o, err := pattern.Parse(name)
	return err == nil && o.Less(r)
}

// kubernetesVersions reads the Kubernetes minors of compatibleWith.
func kubernetesVersions(cs []*armcontainerservice.CompatibleVersions) []string {
	var out []string
	for _, c := range cs {
		if c != nil && strings.EqualFold(deref(c.Name), "kubernetes") {
			out = append(out, strs(c.Versions)...)
		}
	}
	return out
}

// kubernetesMinor is "1.33" of "1.33.2".
func kubernetesMinor(v string) string {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func strs(ps []*string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}
