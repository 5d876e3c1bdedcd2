package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/meshops/meshops/status"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/sync/webhook"
)

// runFlags are meshops run's own flags.
type runFlags struct {
	schedule    string
	listen      string
	reportOnly  bool
	leaderElect bool
	source      sourceFlags
	aks         aksFlags
}

func newRunCommand(g *globalFlags) *cobra.Command {
	var (
		cf configFlags
		rf runFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Reconcile continuously: on a schedule, on push webhooks, one run at a time",
		Long: `run is the GitOps loop: it fetches the config repo, plans and applies, at start,
on --schedule (robfig/cron, default every 5 minutes) and when a push webhook
arrives. Triggers during a run coalesce into one follow-up run; with
--leader-elect only the replica holding the Lease reconciles. It serves
/metrics, /healthz, /readyz and the webhooks on --listen, and stops on SIGTERM,
cancelling the step under way (the next run resumes it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			g.logsAreOutput = true
			return runLoop(ctx, g, cf, rf)
		},
	}
	cf.register(cmd)
	rf.source.register(cmd, &cf.opts.RepoPath)
	rf.source.registerHooks(cmd)
	rf.aks.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&rf.schedule, "schedule", reconcile.DefaultSchedule, "when to fetch and reconcile without a trigger (cron spec, or @every 1m)")
	fl.StringVar(&rf.listen, "listen", ":8080", "address for /metrics, /healthz, /readyz and /hooks/*")
	fl.BoolVar(&rf.reportOnly, "report-only", false, "plan and report (drift, pending steps) but apply nothing")
	fl.BoolVar(&rf.leaderElect, "leader-elect", false, "reconcile only while holding the meshops Lease in --state-namespace (run with more than one replica)")
	return documentExitCodes(cmd,
		exitCode{exitOK, "stopped by SIGTERM or interrupt"},
		exitCode{exitFailed, "could not start (bad flag, source or listen address), or lost the Lease"},
	)
}

func runLoop(ctx context.Context, g *globalFlags, cf configFlags, rf runFlags) error {
	log := g.logger()
	schedule, err := reconcile.ParseSchedule(rf.schedule)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	src, err := rf.source.build(log)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := reconcile.NewMetrics(reg)
	r, stopEvents := g.engine("meshops run", src, reconcile.Options{Config: cf.opts, ReportOnly: rf.reportOnly, Log: log, Metrics: metrics, AKS: rf.aks.overrides()}, false)
	defer stopEvents()
	// The loop needs the cluster before its first reconcile: for the
	// record, the Lease and the Events.
	cl, err := g.connect()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	cs, err := kubernetes.NewForConfig(cl.Config)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	r.Cluster, r.Store = cl.Cluster, cl.Store
	events := newBroadcaster(cs)
	defer events.Shutdown()
	r.Options.Recorder = events.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "meshops"})
	loop := reconcile.New(func(ctx context.Context, reason string) error {
		_, err := r.Reconcile(ctx, reason)
		return err
	}, schedule)
	loop.Store, loop.Log = cl.Store, log

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	// The read-only status page: a reload reads the cluster at most every
	// few seconds, whoever reloads it.
	mux.Handle("/", status.Handler(status.Cached(func(ctx context.Context) (status.Report, error) {
		return status.Observe(ctx, cl.Client, cl.Store, status.DefaultOptions())
	}, 5*time.Second)))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if err := rf.source.hooks(mux, loop.Trigger, metrics, log); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	lis, err := net.Listen("tcp", rf.listen)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("--listen %s: %w", rf.listen, err)}
	}
	// Timeouts and header cap for every client, with or without
	// credentials; the webhooks add their own in-flight cap and body bounds.
	srv := webhook.DefaultServerOptions().Server(mux)
	go func() { _ = srv.Serve(lis) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("serving", "listen", lis.Addr().String(), "schedule", rf.schedule, "leaderElect", rf.leaderElect)
	ready.Store(true)

	if !rf.leaderElect {
		return loop.Run(ctx)
	}
	return leaderElected(ctx, cs, cl.Store.Namespace, func(ctx context.Context) { _ = loop.Run(ctx) }, g)
}

// leaderElected runs fn while this replica holds the meshops Lease, so no
// two replicas ever reconcile at once. Losing the Lease ends the process:
// its state is in the cluster, and the new leader resumes.
func leaderElected(ctx context.Context, cs kubernetes.Interface, namespace string, fn func(context.Context), g *globalFlags) error {
	id, err := os.Hostname()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	id += fmt.Sprintf("-%d", os.Getpid())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: "meshops-leader"},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	lost := errors.New("lost the meshops Lease")
	var result error
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true,
		LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 5 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: fn,
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					result = &exitError{code: exitFailed, err: lost}
				}
			},
			OnNewLeader: func(leader string) { g.logger().Info("leader", "identity", leader, "self", leader == id) },
		},
	})
	return result
}
