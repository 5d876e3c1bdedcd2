package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

// scenarioCluster is one scenario's slice of the shared API server: its
// own simulated control planes (revisions nobody else uses, so no other
// test's injectors overlap with them), tag, namespace and config repo.
type scenarioCluster struct {
	t        *testing.T
	sim      simmesh.Options
	old, new string
	tag      string
	ns       string
	cluster  Cluster
}

func newScenarioCluster(t *testing.T, major int) *scenarioCluster {
	t.Helper()
	ctx := context.Background()
	s := &scenarioCluster{t: t, old: fmt.Sprintf("asm-%d-28", major), new: fmt.Sprintf("asm-%d-29", major), tag: fmt.Sprintf("stable-%d", major)}
	s.sim = simmesh.DefaultOptions()
	s.sim.Revisions = []string{s.old, s.new}
	s.sim.Namespace = env.Namespace(t, nil)
	s.sim.IngressNamespace = env.Namespace(t, nil)
	s.sim.FailurePolicy = "Ignore"
	if err := simmesh.Install(ctx, env.Client, s.sim); err != nil {
		t.Fatal(err)
	}
	s.ns = env.Namespace(t, map[string]string{mesh.RevisionLabel: s.tag})
	rm := ssa.NewResourceManager(env.Client, polling.NewStatusPoller(env.Client, env.Mapper, polling.Options{}), ssa.Owner{Field: "meshops", Group: "meshops.io"})
	s.cluster = Cluster{Client: env.Client, RM: rm, Config: env.Config, FieldManager: "meshops"}
	return s
}

// config writes and loads a repo: versions, target, the tag, the
// namespace with a default deny and one ALLOW policy.
func (s *scenarioCluster) config(versions, target string) *configs.Config {
	s.t.Helper()
	repo := s.t.TempDir()
	files := map[string]string{
		"meshops.yaml":       fmt.Sprintf("meshops:\n  istioSystemNamespace: %s\n  ingressGatewayNamespace: %s\n  namespaces: [%s]\n", s.sim.Namespace, s.sim.IngressNamespace, s.ns),
		"config/config.yaml": fmt.Sprintf("defaults:\n  svc:\n    istio:\n      tag: %s\n      versions: %q\n      targetVersion: %s\n", s.tag, versions, target),
		"mesh/policies.yaml": fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: %[1]s}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-frontend, namespace: %[1]s}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/%[1]s/sa/frontend"]}
`, s.ns),
	}
	for name, content := range files {
		path := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	opts := configs.DefaultOptions()
	opts.RepoPath = repo
	cfg, err := configs.Load(context.Background(), opts)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

// setTag points the tag at rev as istioctl would.
func (s *scenarioCluster) setTag(rev string) {
	s.t.Helper()
	ctx := context.Background()
	var injector admissionregistrationv1.MutatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: mesh.InjectorWebhookName(rev, s.sim.Namespace)}, &injector); err != nil {
		s.t.Fatal(err)
	}
	wh, err := mesh.TagWebhook(&injector, s.tag, rev, s.sim.Namespace)
	if err != nil {
		s.t.Fatal(err)
	}
	// No istiod answers the simulated mesh: the test's pods are created
	// with their sidecar already written, past the webhook.
	ignore := admissionregistrationv1.Ignore
	for i := range wh.Webhooks {
		wh.Webhooks[i].FailurePolicy = &ignore
	}
	u, err := toUnstructuredForTest(wh)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := env.Client.Patch(ctx, u, client.Apply, client.FieldOwner("istioctl"), client.ForceOwnership); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = env.Client.Delete(context.Background(), wh) })
}

// workload creates a Deployment with one pod injected by rev in ns.
func (s *scenarioCluster) workload(ns, name, rev string) {
	s.t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: kubetest.PodTemplate}}
	env.Create(s.t, d)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-abc", OwnerReferences: kubetest.ControllerRef("Deployment", "apps/v1", d)},
		Spec: appsv1.ReplicaSetSpec{Selector: d.Spec.Selector, Template: kubetest.PodTemplate}}
	env.Create(s.t, rs)
	pod := kubetest.InjectedPod(ns, name+"-abc-1", rev, kubetest.ControllerRef("ReplicaSet", "apps/v1", rs))
	env.Create(s.t, pod)
	// envtest runs no namespace controller or garbage collector: remove
	// them, or the next scenario sees them stranded on this one's revisions.
	s.t.Cleanup(func() {
		for _, o := range []client.Object{pod, rs, d} {
			_ = env.Client.Delete(context.Background(), o, client.GracePeriodSeconds(0))
		}
	})
}

func (s *scenarioCluster) applyPolicies(cfg *configs.Config) {
	s.t.Helper()
	for _, m := range cfg.Manifests {
		if _, err := s.cluster.RM.Apply(context.Background(), m.Unstructured(), ssa.DefaultApplyOptions()); err != nil {
			s.t.Fatal(err)
		}
	}
}

func toUnstructuredForTest(wh *admissionregistrationv1.MutatingWebhookConfiguration) (*unstructured.Unstructured, error) {
	data, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wh)
	return &unstructured.Unstructured{Object: data}, err
}

// steps renders a plan's steps as "phase action target", with the test's
// random names replaced by placeholders so the table reads.
func (s *scenarioCluster) steps(p *Plan) []string {
	var out []string
	for _, st := range p.Steps {
		line := fmt.Sprintf("%s %s %s", st.Phase, st.Action, st.Target)
		line = strings.ReplaceAll(line, s.ns, "NS")
		line = strings.ReplaceAll(line, s.sim.Namespace, "ISTIO")
		out = append(out, line)
	}
	return out
}

// Every scenario the planner names, computed by plan.Compute against the
// real API server (observe, server-side dry-run diff, build), with the
// ordered steps it yields.
func TestComputeClassifiesEveryScenarioOnTheRealAPIServer(t *testing.T) {
	for i, tc := range []struct {
		name     string
		setup    func(s *scenarioCluster) (*configs.Config, *state.Record)
		scenario Scenario
		blocked  bool
		steps    []string
	}{
		{"fresh install", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			return s.config(s.old+","+s.new, s.new), nil
		}, ScenarioFreshInstall, false, []string{
			"validate check config", "gate check revision/NEW",
			"policies create AuthorizationPolicy/NS/allow-frontend",
			"policies create AuthorizationPolicy/NS/allow-nothing",
			"tag create MutatingWebhookConfiguration/istio-revision-tag-TAG-ISTIO",
			"verify check mesh",
		}},
		{"upgrade", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.old)
			s.workload(s.ns, "frontend", s.old)
			cfg := s.config(s.old+","+s.new, s.new)
			s.applyPolicies(cfg)
			return cfg, nil
		}, ScenarioUpgrade, false, []string{
			"validate check config", "gate check revision/NEW",
			"tag flip MutatingWebhookConfiguration/istio-revision-tag-TAG-ISTIO",
			"restarts restart Deployment/NS/frontend",
			"verify check mesh",
		}},
		{"rollback", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			s.workload(s.ns, "frontend", s.new)
			cfg := s.config(s.old+","+s.new, s.old)
			s.applyPolicies(cfg)
			return cfg, nil
		}, ScenarioRollback, false, []string{
			"validate check config", "gate check revision/OLD",
			"tag flip MutatingWebhookConfiguration/istio-revision-tag-TAG-ISTIO",
			"restarts restart Deployment/NS/frontend",
			"verify check mesh",
		}},
		{"resume", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			s.workload(s.ns, "frontend", s.new)
			s.workload(s.ns, "backend", s.old)
			cfg := s.config(s.old+","+s.new, s.new)
			s.applyPolicies(cfg)
			return cfg, nil
		}, ScenarioResume, false, []string{
			"validate check config", "gate check revision/NEW",
			"restarts restart Deployment/NS/backend",
			"verify check mesh",
		}},
		{"in sync", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			s.workload(s.ns, "frontend", s.new)
			cfg := s.config(s.old+","+s.new, s.new)
			s.applyPolicies(cfg)
			return cfg, &state.Record{LastAppliedCommit: "c1"}
		}, ScenarioInSync, false, []string{"validate check config", "gate check revision/NEW"}},
		{"policy-only", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			s.workload(s.ns, "frontend", s.new)
			return s.config(s.old+","+s.new, s.new), &state.Record{LastAppliedCommit: "c0"}
		}, ScenarioPolicyOnly, false, []string{
			"validate check config", "gate check revision/NEW",
			"policies create AuthorizationPolicy/NS/allow-frontend",
			"policies create AuthorizationPolicy/NS/allow-nothing",
		}},
		{"drift", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			cfg := s.config(s.old+","+s.new, s.new)
			s.applyPolicies(cfg)
			patch := []byte(`{"spec":{"rules":[{}]}}`) // opens the default deny to everyone
			deny := &unstructured.Unstructured{}
			deny.SetAPIVersion("security.istio.io/v1")
			deny.SetKind("AuthorizationPolicy")
			deny.SetNamespace(s.ns)
			deny.SetName("allow-nothing")
			if err := env.Client.Patch(context.Background(), deny, client.RawPatch("application/merge-patch+json", patch), client.FieldOwner("kubectl-edit")); err != nil {
				s.t.Fatal(err)
			}
			return cfg, &state.Record{LastAppliedCommit: "c1"}
		}, ScenarioDrift, false, []string{
			"validate check config", "gate check revision/NEW",
			"policies update AuthorizationPolicy/NS/allow-nothing",
		}},
		{"target not installed", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			target := strings.Replace(s.new, "-29", "-30", 1)
			return s.config(s.old+","+s.new+","+target, target), nil
		}, ScenarioTargetNotInstalled, true, []string{"validate check config", "gate check revision/" + "NEXT"}},
		{"target unhealthy", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.old)
			if err := simmesh.SetDeploymentReady(context.Background(), env.Client, s.sim.Namespace, mesh.IstiodName(s.new), false); err != nil {
				s.t.Fatal(err)
			}
			return s.config(s.old+","+s.new, s.new), nil
		}, ScenarioTargetUnhealthy, true, []string{"validate check config", "gate check revision/NEW"}},
		{"revision removed from versions while workloads use it", func(s *scenarioCluster) (*configs.Config, *state.Record) {
			s.setTag(s.new)
			pinned := env.Namespace(s.t, map[string]string{mesh.RevisionLabel: s.old})
			s.workload(pinned, "legacy", s.old)
			return s.config(s.new, s.new), nil
		}, ScenarioRevisionInUse, true, []string{"validate check config", "gate check revision/NEW"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenarioCluster(t, 50+i)
			cfg, rec := tc.setup(s)
			p, err := Compute(context.Background(), s.cluster, cfg, ComputeOptions{Commit: "c1", Record: rec})
			if err != nil {
				t.Fatal(err)
			}
			if p.Scenario != tc.scenario || p.Blocked != tc.blocked {
				t.Fatalf("scenario %q blocked=%v (%s), want %q blocked=%v", p.Scenario, p.Blocked, p.Reason, tc.scenario, tc.blocked)
			}
			want := make([]string, len(tc.steps))
			for i, st := range tc.steps {
				st = strings.ReplaceAll(st, "NEW", s.new)
				st = strings.ReplaceAll(st, "OLD", s.old)
				st = strings.ReplaceAll(st, "NEXT", strings.Replace(s.new, "-29", "-30", 1))
				want[i] = strings.ReplaceAll(st, "TAG", s.tag)
			}
			if got := s.steps(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("steps:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
