package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/test/binaries"
)

// NeverReadyLabel on a pod keeps kwok from ever marking it ready: the way
// tests make a workload's rollout fail.
const NeverReadyLabel = "meshops.test/never-ready"

// NodeName is the one fake node kwok runs every pod on.
const NodeName = "kwok-node-0"

// controllers are the kube-controller-manager controllers the mesh needs.
// node-lifecycle removes the not-ready taint from new nodes: without it
// every pod stays Pending. disruption keeps PodDisruptionBudget status.
var controllers = []string{
	"deployment-controller", "replicaset-controller", "statefulset-controller",
	"daemonset-controller", "job-controller", "cronjob-controller", "namespace-controller",
	"garbage-collector-controller", "serviceaccount-controller",
	"root-ca-certificate-publisher-controller", "endpointslice-controller",
	"pod-garbage-collector-controller", "node-lifecycle-controller", "disruption-controller",
}

// rateLimitArgs are the client rate-limit flags kube-controller-manager
// and kube-scheduler share; none when opts leaves their defaults.
func rateLimitArgs(opts Options) []string {
	var args []string
	if opts.ControllerQPS > 0 {
		args = append(args, "--kube-api-qps="+strconv.FormatFloat(float64(opts.ControllerQPS), 'f', -1, 32))
	}
	if opts.ControllerBurst > 0 {
		args = append(args, "--kube-api-burst="+strconv.Itoa(opts.ControllerBurst))
	}
	return args
}

func (c *Cluster) startControllerManager(certs pki, opts Options) error {
	bin, err := binaries.KubeControllerManager.Path()
	if err != nil {
		return err
	}
	p := process{Name: "kube-controller-manager", Path: bin, Dir: c.StateDir, Args: []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + certs.ServiceAccountKey(),
		"--root-ca-file=" + certs.CACert(),
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--controllers=" + strings.Join(controllers, ","),
		// kwok nodes heartbeat; a short grace period only adds churn.
		"--node-monitor-grace-period=40s",
	}}
	p.Args = append(p.Args, rateLimitArgs(opts)...)
	return p.start(c.StateDir)
}

func (c *Cluster) startScheduler(opts Options) error {
	bin, err := binaries.KubeScheduler.Path()
	if err != nil {
		return err
	}
	p := process{Name: "kube-scheduler", Path: bin, Dir: c.StateDir, Args: []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	}}
	p.Args = append(p.Args, rateLimitArgs(opts)...)
	return p.start(c.StateDir)
}

// kwokStages are the Stage documents of kwok's "fast" set. The bare binary
// has none built in, so they are read from the kwok module.
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat/node-heartbeat.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

func (c *Cluster) startKwok(ctx context.Context, podStartDelay time.Duration) error {
	bin, err := binaries.Kwok.Path()
	if err != nil {
		return err
	}
	dir, err := binaries.ModuleDir(ctx, binaries.Kwok.ToolModule, binaries.Kwok.Module)
	if err != nil {
		return err
	}
	// A configuration read from a file is not defaulted: parallelism and
	// the list pager must be set explicitly or kwok does nothing.
	docs := []string{`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
`}
	for _, rel := range kwokStages {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if strings.HasSuffix(rel, "pod-ready.yaml") {
			if data, err = slowAndSelectivePodReady(data, podStartDelay); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		docs = append(docs, string(data))
	}
	cfg := filepath.Join(c.StateDir, "kwok.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Join(docs, "\n---\n")), 0o644); err != nil {
		return err
	}
	p := process{Name: "kwok", Path: bin, Dir: c.StateDir, Args: []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--manage-all-nodes=true",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
		"--config=" + cfg,
		"--server-address=127.0.0.1:0",
	}}
	return p.start(c.StateDir)
}

// slowAndSelectivePodReady adds a delay before a pod turns ready, standing
// in for container start time, and leaves pods carrying NeverReadyLabel
// Pending for ever, for failure tests.
func slowAndSelectivePodReady(data []byte, delay time.Duration) ([]byte, error) {
	stage := map[string]any{}
	if err := yaml.Unmarshal(data, &stage); err != nil {
		return nil, err
	}
	exprs, found, err := unstructured.NestedSlice(stage, "spec", "selector", "matchExpressions")
	if err != nil || !found {
		return nil, fmt.Errorf("pod-ready stage has no selector (found=%v): %v", found, err)
	}
	exprs = append(exprs, map[string]any{
		"key":      fmt.Sprintf(`.metadata.labels["%s"]`, NeverReadyLabel),
		"operator": "DoesNotExist",
	})
	if err := unstructured.SetNestedSlice(stage, exprs, "spec", "selector", "matchExpressions"); err != nil {
		return nil, err
	}
	if delay > 0 {
		if err := unstructured.SetNestedField(stage, delay.Milliseconds(), "spec", "delay", "durationMilliseconds"); err != nil {
			return nil, err
		}
	}
	return yaml.Marshal(stage)
}

// nodeCPUPerPod and nodeMemoryPerPod size the fake node per pod slot:
// istiod's sidecar requests 100m and 128Mi, so with these every slot fits
// an injected pod and the scheduler never runs out of CPU first.
var (
	nodeCPUPerPod    = resource.MustParse("200m")
	nodeMemoryPerPod = resource.MustParse("256Mi")
)

// createNode registers the fake node. Its kubelet version must be a real
// one: with kwok's default string istiod cannot parse it and injects a
// classic sidecar instead of the native one real 1.33+ nodes get.
func createNode(ctx context.Context, cs kubernetes.Interface, kubeletVersion string, pods int) error {
	capacity := corev1.ResourceList{
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
		corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(pods)*nodeCPUPerPod.MilliValue(), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(pods)*nodeMemoryPerPod.Value(), resource.BinarySI),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: kubeletVersion, OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Status is a subresource: the create dropped it. kwok and the
	// node-lifecycle controller write the node's status at the same time,
	// so re-read and retry on conflict, keeping what they wrote.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status.Capacity, latest.Status.Allocatable = capacity, capacity
		latest.Status.NodeInfo.KubeletVersion = kubeletVersion
		latest.Status.NodeInfo.OperatingSystem, latest.Status.NodeInfo.Architecture = "linux", "amd64"
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
}

// waitNodeReady waits until kwok has taken the node and the
// controller-manager has lifted its not-ready taint.
func waitNodeReady(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err == nil {
			ready := false
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if ready && len(n.Spec.Taints) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not ready and untainted: %w", NodeName, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
