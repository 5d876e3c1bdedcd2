package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
)

// Attach returns the Cluster that Up started in opts.StateDir, for another
// process that changes its revisions: the ARM emulator that
// `make cluster-up MESH=aks` runs in the background. opts are those Up ran
// with (proxy tags, timeouts, log). It knows no istiod of its own until
// InstallRevision; RemoveRevision stops any, by its PID file.
func Attach(opts Options) (*Cluster, error) {
	if opts.StateDir == "" {
		return nil, errors.New("controlplane: StateDir is required")
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = dir
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	c := &Cluster{StateDir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), Endpoints: map[string]string{}, Istiods: map[string]*Istiod{}, opts: opts}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, fmt.Errorf("controlplane: no cluster in %s: %w", dir, err)
	}
	return c, nil
}

// Istiod returns the running istiod of rev, if this Cluster started it.
func (c *Cluster) Istiod(rev string) (*Istiod, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ist, ok := c.Istiods[rev]
	return ist, ok
}

func (c *Cluster) setIstiod(rev string, ist *Istiod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ist == nil {
		delete(c.Istiods, rev)
		delete(c.Endpoints, "istiod-"+rev)
		return
	}
	c.Istiods[rev] = ist
}

func (c *Cluster) clients() (client.Client, kubernetes.Interface, error) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	cl, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	return cl, cs, err
}

// InstallRevision installs rev the way Up installs its revisions (the
// chart's objects rendered by istioctl, webhooks pointed at a real istiod
// process) and returns once that istiod serves, has patched its injector's
// caBundle, and its istiod-<rev> Deployment is available: what the AKS
// add-on has done when its operation succeeds. It implements
// test/armemu.Mesh. Installing a running revision again re-applies its
// objects and restarts its istiod.
func (c *Cluster) InstallRevision(ctx context.Context, rev string) error {
	cl, cs, err := c.clients()
	if err != nil {
		return err
	}
	if err := ensureNamespace(ctx, cl, IstioNamespace); err != nil {
		return err
	}
	if _, err := stop(c.StateDir, "istiod-"+rev, 10*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "installing revision %s (%s) and starting its istiod\n", rev, c.opts.describe(rev))
	ist, err := c.installRevision(ctx, cl, rev, c.opts)
	if err != nil {
		return fmt.Errorf("revision %s: %w", rev, err)
	}
	c.setIstiod(rev, ist)
	if err := waitCABundle(ctx, cs, rev, c.opts.ReadyTimeout); err != nil {
		return err
	}
	return waitDeploymentsReady(ctx, cs, IstioNamespace, c.opts.ReadyTimeout, "istiod-"+rev)
}

// RemoveRevision undoes InstallRevision: it stops rev's istiod, deletes
// every object of rev's install (the same rendering, so the same list:
// ConfigMaps, webhooks, Deployment, Service, RBAC, ...) and returns once
// they are gone. Objects shared between revisions (those neither named
// after rev nor labelled istio.io/rev=rev) stay. It implements
// test/armemu.Mesh.
func (c *Cluster) RemoveRevision(ctx context.Context, rev string) error {
	cl, _, err := c.clients()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "removing revision %s and stopping its istiod\n", rev)
	if _, err := stop(c.StateDir, "istiod-"+rev, 10*time.Second); err != nil {
		return err
	}
	c.setIstiod(rev, nil)
	objs, err := renderRevision(ctx, rev, c.opts)
	if err != nil {
		return err
	}
	var owned []*unstructured.Unstructured
	for _, o := range slices.Backward(objs) {
		if ownedByRevision(o, rev) {
			owned = append(owned, o)
		}
	}
	for _, o := range owned {
		if err := cl.Delete(ctx, o, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("revision %s: deleting %s %s/%s: %w", rev, o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for _, o := range owned {
		for {
			probe := &unstructured.Unstructured{}
			probe.SetGroupVersionKind(o.GroupVersionKind())
			err := cl.Get(ctx, client.ObjectKeyFromObject(o), probe)
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("revision %s: %s %s/%s still exists after %s", rev, o.GetKind(), o.GetNamespace(), o.GetName(), c.opts.ReadyTimeout)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return os.RemoveAll(filepath.Join(c.StateDir, "istiod-"+rev))
}

// ownedByRevision tells rev's own objects from what its rendering shares
// with other revisions (and from namespaces, never removed).
func ownedByRevision(o *unstructured.Unstructured, rev string) bool {
	if o.GetKind() == "Namespace" {
		return false
	}
	if o.GetLabels()[mesh.RevisionLabel] == rev {
		return true
	}
	// The revision as a whole dash-separated part of the name, so that
	// removing asm-1-3 leaves istiod-asm-1-30 alone.
	n := "-" + o.GetName() + "-"
	return strings.Contains(n, "-"+rev+"-")
}

// StartProcess starts a program of the local cluster's own, like etcd or
// istiod: in its own session, its output in StateDir/logs/<name>.log and
// its PID in the state folder, so that Down (and the crash cleanup at the
// next Up) stops it. It runs in workDir, StateDir when "". The dev
// cluster's ARM emulator runs this way, in the repository (it finds the
// cached istiod and istioctl through it).
func (c *Cluster) StartProcess(name, workDir, path string, args, env []string) error {
	if workDir == "" {
		workDir = c.StateDir
	}
	return process{Name: name, Path: path, Args: args, Env: env, Dir: workDir}.start(c.StateDir)
}

// Running reports whether the process StartProcess (or Up) started under
// name is alive.
func (c *Cluster) Running(name string) bool { return running(c.StateDir, name) }

// LogFile is where the process name writes its output.
func (c *Cluster) LogFile(name string) string { return logFile(c.StateDir, name) }
