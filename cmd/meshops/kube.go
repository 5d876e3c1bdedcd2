package main

import (
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
)

// fieldManager is meshops' server-side apply field manager.
const fieldManager = "meshops"

// cluster is everything the commands that talk to the cluster share.
type cluster struct {
	plan.Cluster
	Store *state.Store
	// Config is the REST config, for client-go parts (events, leases).
	Config *rest.Config
}

// connect builds the client, the fluxcd/pkg/ssa resource manager and the
// state store.
func (g *globalFlags) connect() (*cluster, error) {
	// controller-runtime's client logs through its global logger.
	ctrllog.SetLogger(logr.FromSlogHandler(g.logger().Handler()))
	c, restConfig, err := g.kubeClient()
	if err != nil {
		return nil, err
	}
	rm := ssa.NewResourceManager(c, polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{}),
		ssa.Owner{Field: fieldManager, Group: "meshops.io"})
	store := &state.Store{Client: c, Namespace: g.stateNamespace, Name: state.DefaultName}
	return &cluster{
		Cluster: plan.Cluster{Client: c, RM: rm, FieldManager: fieldManager, OwnerName: store.Name, OwnerNamespace: g.stateNamespace},
		Store:   store,
		Config:  restConfig,
	}, nil
}

// kubeClient builds a client from --kubeconfig/--context (else $KUBECONFIG
// or ~/.kube/config) with a dynamic REST mapper, so Istio kinds whose CRDs
// arrived after start-up resolve.
func (g *globalFlags) kubeClient() (client.Client, *rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if g.kubeconfig != "" {
		rules.ExplicitPath = g.kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: g.context}).ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster %s unreachable: %w", cfg.Host, err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme, Mapper: mapper, HTTPClient: httpClient})
	return c, cfg, err
}
