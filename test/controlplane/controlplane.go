// Package controlplane runs a local Kubernetes control plane from binaries
// built out of the Go module proxy (see test/binaries): etcd and a
// kube-apiserver with real PKI and RBAC. It backs `make cluster-up`, the demo
// and the end-to-end tests. Processes run in their own sessions with their
// PIDs in the state folder, so a cluster outlives the command that started it
// and Down stops exactly what Up started.
package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/crds"
	"github.com/meshops/meshops/test/simmesh"
)

// Options configures a control plane. Zero values take the defaults noted.
type Options struct {
	// StateDir holds PKI, data, logs, PID files and the kubeconfig.
	// Required; `make cluster-up` uses .dev.
	StateDir string
	// ReadyTimeout bounds the wait for every component. Default 60s.
	ReadyTimeout time.Duration
	// Log receives progress lines. Default io.Discard.
	Log io.Writer

	// Full adds kube-controller-manager, kube-scheduler, kwok with one fake
	// node, a real istiod process per revision (its install rendered from
	// Istio's charts, an istiod-<rev> Deployment standing for it) and the
	// ingress gateway. Without it only etcd and the API server run, with
	// the CRDs installed.
	Full bool
	// Revisions run side by side when Full. Default asm-1-28, asm-1-29.
	Revisions []string
	// NoRevisions starts a Full control plane without any revision: the
	// ARM emulator (test/armemu) installs them through InstallRevision, as
	// the AKS add-on would (`make cluster-up MESH=aks`).
	NoRevisions bool
	// ProxyTags maps a revision to the proxy image tag it injects, so tests
	// can see which revision injected a pod. Default: the revision's
	// numbers with patch 0 (asm-1-29 → 1.29.0).
	ProxyTags map[string]string
	// NeverReadyRevisions are revisions released broken: their injector
	// adds NeverReadyLabel to every pod it injects (an extra default
	// injection template, as Istio's chart allows), so kwok never marks
	// those pods ready and a restart onto the revision fails in the real
	// cluster, while the revision's istiod itself is healthy. A workload
	// restarted back onto another revision heals. For the demo's
	// automatic rollback (`devcluster up --never-ready-revisions`).
	NeverReadyRevisions []string
	// PodStartDelay is how long kwok waits before a pod turns ready,
	// standing in for container start. Default 1s; negative means none.
	PodStartDelay time.Duration
	// NodePods is the fake node's pod capacity, when Full. Default 2000;
	// fleet-scale benchmarks raise it so no pod stays unschedulable. The
	// node's CPU and memory grow with it (nodeCPUPerPod, nodeMemoryPerPod)
	// so that every slot fits a pod with an injected sidecar.
	NodePods int
	// ControllerQPS and ControllerBurst are the client-side rate limits
	// (--kube-api-qps, --kube-api-burst) of kube-controller-manager and
	// kube-scheduler, when Full. Default 0: the binaries' own defaults
	// (controller-manager 20/30, scheduler 50/100), which throttle hundreds
	// of concurrent rollouts; benchmarks raise them so the controllers are
	// not what they measure.
	ControllerQPS   float32
	ControllerBurst int
}

// ProxyTag is the proxy image tag rev injects under these options.
func (o Options) ProxyTag(rev string) string {
	if t, ok := o.ProxyTags[rev]; ok {
		return t
	}
	return simmesh.Options{}.ProxyTag(rev)
}

// describe says what rev injects under these options, for the log.
func (o Options) describe(rev string) string {
	if slices.Contains(o.NeverReadyRevisions, rev) {
		return "proxy " + o.ProxyTag(rev) + "; released broken: pods it injects never turn ready"
	}
	return "proxy " + o.ProxyTag(rev)
}

// Cluster is a running control plane.
type Cluster struct {
	StateDir   string
	Kubeconfig string
	Config     *rest.Config
	// Endpoints names what runs where, for people reading cluster-up output.
	Endpoints map[string]string
	// Istiods are the running revisions (Full only). InstallRevision and
	// RemoveRevision change it under mu; read it through Istiod when an
	// ARM emulator may be changing revisions.
	Istiods map[string]*Istiod

	opts Options
	mu   sync.Mutex
	// apiserver and apiTLS start kube-apiserver again (RestartAPIServer);
	// set by Up, not by Attach.
	apiserver *process
	apiTLS    *tls.Config
}

// RestartAPIServer stops kube-apiserver, leaves it down for down, and
// starts it again on the same port with the same etcd data, as a rolling
// control-plane upgrade or a crash does; it returns once it is ready.
// Only a Cluster that Up started can do it.
func (c *Cluster) RestartAPIServer(ctx context.Context, down time.Duration) error {
	if c.apiserver == nil {
		return errors.New("controlplane: this cluster's kube-apiserver was not started here")
	}
	if _, err := stop(c.StateDir, c.apiserver.Name, 10*time.Second); err != nil {
		return err
	}
	t := time.NewTimer(down)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	if err := c.apiserver.start(c.StateDir); err != nil {
		return err
	}
	return waitHTTP(ctx, c.apiTLS, c.Endpoints["kube-apiserver"]+"/readyz", c.opts.ReadyTimeout,
		func() bool { return running(c.StateDir, c.apiserver.Name) })
}

// Up starts etcd and kube-apiserver, waits until the API server is ready
// and writes StateDir/kubeconfig. Leftovers of an earlier cluster in the same
// folder (a crash, a forgotten cluster-down) are stopped and removed first.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.StateDir == "" {
		return nil, errors.New("controlplane: StateDir is required")
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if len(opts.Revisions) == 0 && !opts.NoRevisions {
		opts.Revisions = []string{"asm-1-28", "asm-1-29"}
	}
	if opts.NoRevisions {
		opts.Revisions = nil
	}
	if opts.PodStartDelay == 0 {
		opts.PodStartDelay = time.Second
	}
	if opts.NodePods == 0 {
		opts.NodePods = 2000
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if err := Down(dir, opts.Log); err != nil {
		return nil, fmt.Errorf("cleaning up an earlier cluster in %s: %w", dir, err)
	}
	etcdBin, err := binaries.Etcd.Path()
	if err != nil {
		return nil, err
	}
	apiserverBin, err := binaries.KubeAPIServer.Path()
	if err != nil {
		return nil, err
	}
	certs := pki{Dir: filepath.Join(dir, "pki")}
	if err := certs.generate(); err != nil {
		return nil, fmt.Errorf("generating PKI: %w", err)
	}
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	opts.StateDir = dir
	c := &Cluster{StateDir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), Endpoints: map[string]string{}, Istiods: map[string]*Istiod{}, opts: opts}
	fail := func(err error) (*Cluster, error) {
		_ = Down(dir, io.Discard)
		return nil, err
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	etcd := process{
		Name: "etcd", Path: etcdBin, Dir: dir,
		Args: []string{
			"--name=meshops-local",
			"--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=meshops-local=" + peerURL,
			// Test data only: fsync dominates etcd latency on shared disks.
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
	}
	fmt.Fprintf(opts.Log, "starting etcd on %s\n", etcdURL)
	if err := etcd.start(dir); err != nil {
		return fail(err)
	}
	if err := waitHTTP(ctx, nil, etcdURL+"/health", opts.ReadyTimeout, func() bool { return running(dir, "etcd") }); err != nil {
		return fail(fmt.Errorf("etcd not healthy (log: %s): %w", logFile(dir, "etcd"), err))
	}
	c.Endpoints["etcd"] = etcdURL

	apiURL := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	apiserver := process{
		Name: "kube-apiserver", Path: apiserverBin, Dir: dir,
		Args: []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(apiPort),
			// The default reconciler refuses a loopback advertise address.
			"--endpoint-reconciler-type=none",
			"--authorization-mode=Node,RBAC",
			"--client-ca-file=" + certs.CACert(),
			// Set so that the controller-manager and scheduler find an
			// authentication config; no client of ours has this name, so no
			// regular certificate can act as an authenticating proxy.
			"--requestheader-client-ca-file=" + certs.CACert(),
			"--requestheader-allowed-names=front-proxy-client",
			"--tls-cert-file=" + certs.ServingCert(), "--tls-private-key-file=" + certs.ServingKey(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + certs.ServiceAccountPub(),
			"--service-account-signing-key-file=" + certs.ServiceAccountKey(),
			"--service-cluster-ip-range=10.0.0.0/24",
			"--allow-privileged=true",
			"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		},
	}
	fmt.Fprintf(opts.Log, "starting kube-apiserver on %s\n", apiURL)
	if err := apiserver.start(dir); err != nil {
		return fail(err)
	}
	cfg := &rest.Config{
		Host: apiURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: certs.CACert(), CertFile: certs.AdminCert(), KeyFile: certs.AdminKey(),
		},
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return fail(err)
	}
	if err := waitHTTP(ctx, tlsCfg, apiURL+"/readyz", opts.ReadyTimeout, func() bool { return running(dir, "kube-apiserver") }); err != nil {
		return fail(fmt.Errorf("kube-apiserver not ready (log: %s): %w", logFile(dir, "kube-apiserver"), err))
	}
	c.Endpoints["kube-apiserver"] = apiURL
	c.apiserver, c.apiTLS = &apiserver, tlsCfg
	if err := writeKubeconfig(c.Kubeconfig, apiURL, certs); err != nil {
		return fail(err)
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return fail(err)
	}
	c.Config.QPS, c.Config.Burst = 200, 400
	if opts.Full {
		if err := c.startWorkers(ctx, opts, certs); err != nil {
			return fail(err)
		}
	}
	list, err := crds.Load(ctx)
	if err != nil {
		return fail(err)
	}
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{CRDs: list}); err != nil {
		return fail(fmt.Errorf("installing CRDs: %w", err))
	}
	fmt.Fprintf(opts.Log, "installed %d CRDs (Istio, Gateway API)\n", len(list))
	if opts.Full {
		if err := c.installMesh(ctx, opts); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// startWorkers starts what makes workloads really run: the controllers,
// the scheduler and kwok's fake node.
func (c *Cluster) startWorkers(ctx context.Context, opts Options, certs pki) error {
	fmt.Fprintln(opts.Log, "starting kube-controller-manager, kube-scheduler, kwok")
	if err := c.startControllerManager(certs, opts); err != nil {
		return err
	}
	if err := c.startScheduler(opts); err != nil {
		return err
	}
	if err := c.startKwok(ctx, opts.PodStartDelay); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	kubeletVersion, err := binaries.KubeAPIServer.Version()
	if err != nil {
		return err
	}
	if err := createNode(ctx, cs, kubeletVersion, opts.NodePods); err != nil {
		return fmt.Errorf("creating node %s: %w", NodeName, err)
	}
	if err := waitNodeReady(ctx, cs, opts.ReadyTimeout); err != nil {
		return fmt.Errorf("%w (logs: %s)", err, filepath.Join(c.StateDir, "logs"))
	}
	c.Endpoints["node"] = NodeName + " (kwok, kubelet " + kubeletVersion + ")"
	return nil
}

// installMesh installs each revision with its istiod and the ingress gateway.
func (c *Cluster) installMesh(ctx context.Context, opts Options) error {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	cl, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	if err := ensureNamespace(ctx, cl, IstioNamespace); err != nil {
		return err
	}
	// One after the other: the first istiod creates the root CA that the
	// next one reads.
	for _, rev := range opts.Revisions {
		fmt.Fprintf(opts.Log, "installing revision %s (%s) and starting its istiod\n", rev, opts.describe(rev))
		ist, err := c.installRevision(ctx, cl, rev, opts)
		if err != nil {
			return fmt.Errorf("revision %s: %w", rev, err)
		}
		if err := waitCABundle(ctx, cs, rev, opts.ReadyTimeout); err != nil {
			return err
		}
		c.setIstiod(rev, ist)
	}
	sim := simmesh.DefaultOptions()
	sim.Revisions = opts.Revisions
	objs, err := simmesh.Render(sim)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.GetNamespace() != sim.IngressNamespace && !(o.GetKind() == "Namespace" && o.GetName() == sim.IngressNamespace) {
			continue
		}
		if err := cl.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	if err := simmesh.SetLoadBalancerIP(ctx, cl, sim.IngressNamespace, sim.IngressName, sim.IngressIP); err != nil {
		return err
	}
	for _, ns := range []string{IstioNamespace, sim.IngressNamespace} {
		if err := waitDeploymentsReady(ctx, cs, ns, opts.ReadyTimeout); err != nil {
			return err
		}
	}
	return nil
}

// waitDeploymentsReady waits until every Deployment in ns is rolled out
// and available, so cluster-up returns only once the mesh looks healthy.
// With names, it waits for those only, and each must exist.
func waitDeploymentsReady(ctx context.Context, cs kubernetes.Interface, ns string, timeout time.Duration, names ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		list, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var pending []string
		seen := map[string]bool{}
		for _, d := range list.Items {
			if len(names) > 0 && !slices.Contains(names, d.Name) {
				continue
			}
			seen[d.Name] = true
			if st := rollout.Deployment(&d); !st.Done {
				pending = append(pending, d.Name+" ("+st.Message+")")
			}
		}
		for _, n := range names {
			if !seen[n] {
				pending = append(pending, n+" (not found)")
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Deployments in %s not available after %s: %s", ns, timeout, strings.Join(pending, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Down stops every process recorded in stateDir and removes its data. It is
// safe on a folder with no cluster, or a cluster whose processes died.
func Down(stateDir string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	stopped, err := stopAll(stateDir, 10*time.Second)
	for _, name := range stopped {
		fmt.Fprintf(log, "stopped %s\n", name)
	}
	if err != nil {
		return err
	}
	entries, _ := os.ReadDir(stateDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "istiod-") {
			if err := os.RemoveAll(filepath.Join(stateDir, e.Name())); err != nil {
				return err
			}
		}
	}
	// armemu and azure.env are the ARM emulator's (MESH=aks).
	for _, sub := range []string{"etcd", "pki", "run", "apiserver-certs", "kubeconfig", "kwok.yaml", "armemu", "azure.env"} {
		if err := os.RemoveAll(filepath.Join(stateDir, sub)); err != nil {
			return err
		}
	}
	return nil
}

// waitHTTP polls url until it answers 200, the process dies, or timeout.
func waitHTTP(ctx context.Context, tlsCfg *tls.Config, url string, timeout time.Duration, up func() bool) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s answered %s", url, resp.Status)
		} else {
			last = err
		}
		if !up() {
			return fmt.Errorf("process exited: %w", last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeKubeconfig(path, server string, certs pki) error {
	read := func(p string) []byte {
		b, _ := os.ReadFile(p)
		return b
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["meshops-local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: read(certs.CACert())}
	cfg.AuthInfos["meshops-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: read(certs.AdminCert()), ClientKeyData: read(certs.AdminKey())}
	cfg.Contexts["meshops-local"] = &clientcmdapi.Context{Cluster: "meshops-local", AuthInfo: "meshops-admin"}
	cfg.CurrentContext = "meshops-local"
	return clientcmd.WriteToFile(*cfg, path)
}
