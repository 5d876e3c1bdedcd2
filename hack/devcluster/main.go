// Command devcluster builds the control-plane binaries and starts and stops
// the local cluster behind `make tools`, `make cluster-up` and
// `make cluster-down`.
//
//	devcluster tools [NAME...]     build (or find cached) binaries, print their paths
//	devcluster assets              print a KUBEBUILDER_ASSETS folder for envtest
//	devcluster up [flags]          start the cluster in the background, write DIR/kubeconfig
//	devcluster down [flags]        stop every process up started, remove its data
//	devcluster armemu --dir DIR    the ARM emulator process `up --mesh aks` starts (not for people)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/simmesh"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "tools":
		err = tools(ctx, os.Args[2:])
	case "assets":
		var dir string
		if dir, err = binaries.EnvtestAssets(); err == nil {
			fmt.Println(dir)
		}
	case "up":
		err = up(ctx, os.Args[2:])
	case "armemu":
		err = runARMEmulator(ctx, os.Args[2:])
	case "down":
		fs := flag.NewFlagSet("down", flag.ExitOnError)
		dir := fs.String("dir", ".dev", "state folder of the cluster")
		_ = fs.Parse(os.Args[2:])
		if err = controlplane.Down(*dir, os.Stdout); err == nil {
			fmt.Printf("cluster in %s is down\n", *dir)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "devcluster %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: devcluster tools [NAME...] | assets | up [--dir DIR] [--revisions 'R1 R2'] [--mesh aks [--arm-latency D]] [--simulated] [--pod-start-delay D] [--never-ready-revisions 'R...'] | down [--dir DIR]")
	os.Exit(2)
}

func tools(ctx context.Context, names []string) error {
	if len(names) == 0 {
		for n := range binaries.ByName {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	for _, n := range names {
		t, ok := binaries.ByName[n]
		if !ok {
			return fmt.Errorf("unknown tool %q", n)
		}
		start := time.Now()
		p, err := t.Build(ctx, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Printf("%-24s %s (%s)\n", n, p, time.Since(start).Round(time.Second))
	}
	return nil
}

func up(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	dir := fs.String("dir", ".dev", "state folder: PKI, data, logs, PID files, kubeconfig")
	revisions := fs.String("revisions", "asm-1-28 asm-1-29", "control-plane revisions")
	simulated := fs.Bool("simulated", false, "objects only: etcd and kube-apiserver with the simulated AKS mesh, no controllers, kwok or istiod")
	podDelay := fs.Duration("pod-start-delay", time.Second, "how long kwok takes to start a pod's containers")
	meshMode := fs.String("mesh", "", `"aks": install the revisions through an ARM emulator of the AKS Istio add-on (test/armemu), which keeps running and changes them when told through ARM; writes DIR/azure.env`)
	armLatency := fs.Duration("arm-latency", time.Second, "with --mesh aks: how long each ARM operation waits before it changes the mesh")
	neverReady := fs.String("never-ready-revisions", "", "revisions released broken: pods they inject never turn ready, so a restart onto them fails (the demo's rollback)")
	_ = fs.Parse(args)
	aks := false
	switch *meshMode {
	case "":
	case "aks":
		aks = true
		if *simulated {
			return fmt.Errorf("--mesh aks needs real istiods: it cannot run with --simulated")
		}
	default:
		return fmt.Errorf("--mesh %q: the only mesh provider is aks (or none for revisions installed directly)", *meshMode)
	}

	start := time.Now()
	opts := controlplane.Options{
		StateDir: *dir, Log: os.Stdout, Full: !*simulated,
		Revisions: strings.Fields(*revisions), PodStartDelay: *podDelay,
		NeverReadyRevisions: strings.Fields(*neverReady),
		// With the AKS emulator, revisions go through ARM, as on AKS.
		NoRevisions: aks,
	}
	cluster, err := controlplane.Up(ctx, opts)
	if err != nil {
		return err
	}
	if aks {
		conn, err := startARMEmulator(ctx, cluster, opts, *armLatency)
		if err != nil {
			_ = controlplane.Down(cluster.StateDir, os.Stdout)
			return err
		}
		cluster.Endpoints["arm-emulator"] = conn.URL + " (source " + filepath.Join(cluster.StateDir, "azure.env") + ")"
		for _, rev := range opts.Revisions {
			cluster.Endpoints["istiod-"+rev] = "started by the ARM emulator (log: " + cluster.LogFile("istiod-"+rev) + ")"
		}
	}
	if *simulated {
		scheme := runtime.NewScheme()
		_ = clientgoscheme.AddToScheme(scheme)
		c, err := client.New(cluster.Config, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		sim := simmesh.DefaultOptions()
		sim.Revisions = opts.Revisions
		if err := simmesh.Install(ctx, c, sim); err != nil {
			return fmt.Errorf("installing the simulated mesh: %w", err)
		}
		fmt.Printf("installed the simulated AKS mesh: revisions %s in %s, gateway in %s\n",
			strings.Join(sim.Revisions, ", "), sim.Namespace, sim.IngressNamespace)
	}
	names := make([]string, 0, len(cluster.Endpoints))
	for n := range cluster.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  %-24s %s\n", n, cluster.Endpoints[n])
	}
	fmt.Printf("cluster up in %s; kubeconfig: %s; logs: %s\n", time.Since(start).Round(100*time.Millisecond),
		cluster.Kubeconfig, filepath.Join(cluster.StateDir, "logs"))
	return nil
}
