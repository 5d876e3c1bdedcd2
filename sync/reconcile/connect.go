package reconcile

import (
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/retry"
	"github.com/meshops/meshops/state"
)

// FieldManager is meshops' server-side apply field manager.
const FieldManager = plan.FieldManager

// ClusterOptions say how the engine talks to a cluster.
type ClusterOptions struct {
	// StateNamespace holds meshops' record and writer lock, and names the
	// owner stamped on applied objects. Default state.DefaultNamespace.
	StateNamespace string
	// Retry bounds how long a call rides out an API server that stopped
	// answering. Default retry.DefaultOptions().
	Retry retry.Options
}

// DefaultClusterOptions are the defaults of ClusterOptions.
func DefaultClusterOptions() ClusterOptions {
	return ClusterOptions{StateNamespace: state.DefaultNamespace, Retry: retry.DefaultOptions()}
}

// NewCluster builds what the engine needs of a cluster from a REST config:
// a client with a dynamic REST mapper (Istio kinds whose CRDs arrive after
// start-up resolve) that retries transient errors, the fluxcd/pkg/ssa
// resource manager on it, and the state store. Every command and the
// tests connect through it.
func NewCluster(cfg *rest.Config, o ClusterOptions) (plan.Cluster, *state.Store, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return plan.Cluster{}, nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return plan.Cluster{}, nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return plan.Cluster{}, nil, fmt.Errorf("cluster %s unreachable: %w", cfg.Host, err)
	}
	raw, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme, Mapper: mapper, HTTPClient: httpClient})
	if err != nil {
		return plan.Cluster{}, nil, err
	}
	c := retry.Client(raw, o.Retry)
	rm := ssa.NewResourceManager(c, polling.NewStatusPoller(c, mapper, polling.Options{}), ssa.Owner{Field: FieldManager, Group: "meshops.io"})
	store := &state.Store{Client: c, Namespace: o.StateNamespace, Name: state.DefaultName}
	return plan.Cluster{Client: c, RM: rm, Config: cfg, FieldManager: FieldManager, OwnerName: store.Name, OwnerNamespace: o.StateNamespace}, store, nil
}
