package main

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
)

// engine is the one reconciler behind plan, sync and run: the commands
// differ only in its options. It connects to the cluster once the config
// has loaded, so bad input is reported without one. With events, what it
// changes is reported as Kubernetes Events, as run does; stop flushes them.
func (g *globalFlags) engine(command string, src reconcile.Source, opts reconcile.Options, events bool) (r *reconcile.Reconciler, stop func()) {
	if opts.Lock.Identity == "" {
		host, _ := os.Hostname()
		opts.Lock.Identity = fmt.Sprintf("%s/%d (%s)", host, os.Getpid(), command)
	}
	r = &reconcile.Reconciler{Source: src, Options: opts}
	var broadcaster record.EventBroadcaster
	r.Connect = func() (plan.Cluster, *state.Store, error) {
		cl, err := g.connect()
		if err != nil {
			return plan.Cluster{}, nil, err
		}
		if events && r.Options.Recorder == nil {
			cs, err := kubernetes.NewForConfig(cl.Config)
			if err != nil {
				return plan.Cluster{}, nil, err
			}
			broadcaster = newBroadcaster(cs)
			r.Options.Recorder = broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "meshops"})
		}
		return cl.Cluster, cl.Store, nil
	}
	return r, func() {
		if broadcaster != nil {
			broadcaster.Shutdown()
		}
	}
}

// newBroadcaster sends Events to the cluster.
func newBroadcaster(cs kubernetes.Interface) record.EventBroadcaster {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return b
}
