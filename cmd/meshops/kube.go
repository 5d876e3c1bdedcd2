package main

import (
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
)

// cluster is everything the commands that talk to the cluster share.
type cluster struct {
	plan.Cluster
	Store *state.Store
	// Config is the REST config, for client-go parts (events, leases).
	Config *rest.Config
}

// connect builds the engine's view of the cluster from --kubeconfig and
// --context (else $KUBECONFIG or ~/.kube/config).
func (g *globalFlags) connect() (*cluster, error) {
	// controller-runtime's client logs through its global logger.
	ctrllog.SetLogger(logr.FromSlogHandler(g.logger().Handler()))
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if g.kubeconfig != "" {
		rules.ExplicitPath = g.kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: g.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	o := reconcile.DefaultClusterOptions()
	o.StateNamespace = g.stateNamespace
	c, store, err := reconcile.NewCluster(cfg, o)
	if err != nil {
		return nil, err
	}
	return &cluster{Cluster: c, Store: store, Config: cfg}, nil
}
