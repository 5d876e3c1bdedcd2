package status

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/state"
)

// Options say where the mesh lives and what the config asks of it.
// DefaultOptions gives the AKS add-on's layout and no config.
type Options struct {
	// IstioNamespace runs the istiod-<rev> Deployments. Default
	// aks-istio-system.
	IstioNamespace string
	// Tag is the config's revision tag; empty: the cluster's only tag, if
	// it has exactly one.
	Tag string
	// Versions are the config's svc.istio.versions; nil when no config is
	// given, and then no revision is judged in or out of them.
	Versions []string
	// Now tells the time of the report; default time.Now.
	Now func() time.Time
}

// DefaultOptions is the AKS layout without a config.
func DefaultOptions() Options {
	return Options{IstioNamespace: observe.DefaultOptions().IstioNamespace, Now: time.Now}
}

// Observe reads the mesh in one observe pass and meshops' record from
// store (none when store is nil) and builds their report.
func Observe(ctx context.Context, c client.Reader, store *state.Store, o Options) (Report, error) {
	oo := observe.DefaultOptions()
	if o.IstioNamespace != "" {
		oo.IstioNamespace = o.IstioNamespace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	snap, err := observe.Observe(ctx, c, oo)
	if err != nil {
		return Report{}, err
	}
	var rec *state.Record
	if store != nil {
		if rec, err = store.Load(ctx); err != nil {
			return Report{}, err
		}
	}
	return Build(snap, rec, o.Tag, o.Versions, o.Now()), nil
}
