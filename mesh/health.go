package mesh

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/meshops/meshops/rollout"
)

// ControlPlane is what meshops observes of one revision: its istiod
// Deployment's rollout and whether its injector webhook exists.
type ControlPlane struct {
	Revision string
	// Found is false when no istiod-<rev> Deployment exists.
	Found bool
	rollout.DeploymentCounts
	InjectorPresent bool
}

// ControlPlaneFromDeployment reads a revision's istiod Deployment.
func ControlPlaneFromDeployment(rev string, d *appsv1.Deployment, injectorPresent bool) ControlPlane {
	cp := ControlPlane{Revision: rev, InjectorPresent: injectorPresent}
	if d == nil {
		return cp
	}
	cp.Found = true
	cp.DeploymentCounts = rollout.CountsOf(d)
	return cp
}

// Healthy says whether the revision may take traffic from a tag move or a
// restart: installed, rolled out by the same rule as every workload (no
// old replica left), at least minReady replicas ready and available, and
// its injector webhook present. The reason says what is missing, for the
// plan and the gate's error.
func (c ControlPlane) Healthy(minReady int32) (bool, string) {
	if minReady < 1 {
		minReady = 1
	}
	if !c.Found {
		return false, fmt.Sprintf("revision %s is not installed (no Deployment %s)", c.Revision, IstiodName(c.Revision))
	}
	if c.Desired < minReady {
		return false, fmt.Sprintf("%s: scaled to %d replicas, needs at least %d ready", IstiodName(c.Revision), c.Desired, minReady)
	}
	if c.Ready < minReady || c.Available < minReady || c.Available < c.Desired {
		return false, fmt.Sprintf("%s: %d ready and %d available of %d replicas (at least %d needed)", IstiodName(c.Revision), c.Ready, c.Available, c.Desired, minReady)
	}
	if st := c.Status(); !st.Done {
		return false, fmt.Sprintf("%s: rollout in progress: %s", IstiodName(c.Revision), st.Message)
	}
	switch {
	case !c.InjectorPresent:
		return false, fmt.Sprintf("revision %s has no injector webhook", c.Revision)
	}
	return true, fmt.Sprintf("%s: %d/%d ready, injector present", IstiodName(c.Revision), c.Ready, c.Desired)
}
