package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

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

// defaultRequestTimeout bounds one request to the API server, so a server
// that accepts a connection and then stays silent fails the command instead
// of hanging it (client-go's default is no limit at all).
const defaultRequestTimeout = 30 * time.Second

// restConfig reads the kubeconfig the kubectl way (k8s.io/cli-runtime's
// ConfigFlags: --kubeconfig, else $KUBECONFIG, else ~/.kube/config;
// --context, --request-timeout as an answerTimeout) and explains the usual
// failures.
func (g *globalFlags) restConfig() (*rest.Config, error) {
	cfg, err := g.kube.ToRESTConfig()
	if err != nil {
		return nil, explainKubeconfig(err)
	}
	// With no kubeconfig at all, kubectl's loader falls back to
	// http://localhost:8080 (or to the in-cluster config, in a pod); a
	// refused connection to an address nobody configured misleads.
	if raw, err := g.kube.ToRawKubeConfigLoader().RawConfig(); err == nil && len(raw.Clusters) == 0 {
		if _, err := rest.InClusterConfig(); err != nil {
			return nil, errNoKubeconfig
		}
	}
	cfg.QPS, cfg.Burst = 50, 100
	d, err := clientcmd.ParseTimeout(g.requestTimeout)
	if err != nil {
		return nil, fmt.Errorf("--request-timeout: %w", err)
	}
	command := g.command
	if command == nil {
		command = context.Background()
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &answerTimeout{next: rt, timeout: d, command: command}
	})
	return cfg, nil
}

// connect builds the engine's view of the cluster; reconcile.NewCluster
// is the one place a client is made from a REST config.
func (g *globalFlags) connect() (*cluster, error) {
	// controller-runtime's client logs through its global logger.
	ctrllog.SetLogger(logr.FromSlogHandler(g.logger().Handler()))
	cfg, err := g.restConfig()
	if err != nil {
		return nil, err
	}
	o := reconcile.DefaultClusterOptions()
	o.StateNamespace = g.stateNamespace
	c, store, err := reconcile.NewCluster(cfg, o)
	if err != nil {
		return nil, err
	}
	return &cluster{Cluster: c, Store: store, Config: cfg}, nil
}
