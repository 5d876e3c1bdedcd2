package verify

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/rollout"
)

func healthy(rev string) mesh.ControlPlane {
	return mesh.ControlPlane{Revision: rev, Found: true, InjectorPresent: true,
		DeploymentCounts: rollout.DeploymentCounts{Desired: 2, Replicas: 2, Updated: 2, Ready: 2, Available: 2}}
}

func injected(name, rev, tag string) observe.Pod {
	return observe.Pod{Name: name, Sidecar: mesh.Sidecar{Injected: true, Revision: rev, Image: "mcr.microsoft.com/oss/istio/proxyv2:" + tag}}
}

// clean is a mesh as it should be after an upgrade to asm-1-29: one
// healthy revision, the tag on it, one namespace on the tag with an
// injected Deployment, the gateway annotated with an address and current,
// STRICT mTLS mesh-wide, and the gateway's TLS Secret present.
func clean() (*State, Desired) {
	d := Desired{
		Tag: "prod-stable", Target: "asm-1-29", Versions: []string{"asm-1-29"}, Namespaces: []string{"maestro"},
		Options:            DefaultOptions(),
		IngressAnnotations: map[string]string{plan.AzurePIPNameAnnotation: "pip-1", plan.AzureLBResourceGroupAnnotation: "rg-1"},
		MinReadyIstiod:     1,
	}
	s := &State{
		Snapshot: &observe.Snapshot{
			ControlPlanes: map[string]mesh.ControlPlane{"asm-1-29": healthy("asm-1-29")},
			Tags:          map[string]observe.Tag{"prod-stable": {Name: "prod-stable", Webhook: "istio-revision-tag-prod-stable-aks-istio-system", Revision: "asm-1-29"}},
			Namespaces: map[string]observe.Namespace{
				"maestro":           {Name: "maestro", Rev: "prod-stable"},
				"kube-system":       {Name: "kube-system"},
				"aks-istio-system":  {Name: "aks-istio-system"},
				"aks-istio-ingress": {Name: "aks-istio-ingress"},
			},
			Workloads: []observe.Workload{
				{Kind: ref.Deployment, Namespace: "aks-istio-ingress", Name: "aks-istio-ingressgateway-external",
					Pods: []observe.Pod{{Name: "gw-1", Sidecar: mesh.Sidecar{Injected: true, Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.1"}}}},
				{Kind: ref.Deployment, Namespace: "kube-system", Name: "coredns", Pods: []observe.Pod{{Name: "coredns-1"}}},
				{Kind: ref.Deployment, Namespace: "maestro", Name: "maestro-api",
					Pods: []observe.Pod{injected("maestro-api-1", "asm-1-29", "1.29.1"), injected("maestro-api-2", "asm-1-29", "1.29.1")}},
			},
		},
		LoadBalancers: []observe.Ingress{{Namespace: "aks-istio-ingress", Name: "aks-istio-ingressgateway-external", Address: "20.1.2.3",
			Annotations: map[string]string{plan.AzurePIPNameAnnotation: "pip-1", plan.AzureLBResourceGroupAnnotation: "rg-1"}}},
		PeerAuthentications: []PeerAuthentication{{Object: ref.Object{Group: "security.istio.io", Kind: "PeerAuthentication", Namespace: "aks-istio-system", Name: "default"}, Mode: "STRICT"}},
		Gateways: []Gateway{{Object: ref.Object{Group: "networking.istio.io", Kind: "Gateway", Namespace: "aks-istio-ingress", Name: "frontend"},
			Credentials: []Credential{{Secret: ref.Object{Kind: "Secret", Namespace: "aks-istio-ingress", Name: "frontend-credential"}, Present: true}}}},
		ProxyTags: map[string]string{"asm-1-29": "1.29.1"},
	}
	return s, d
}

func workload(s *State, ns, name string) *observe.Workload {
	for i := range s.Workloads {
		if s.Workloads[i].Namespace == ns && s.Workloads[i].Name == name {
			return &s.Workloads[i]
		}
	}
	return nil
}

func TestACleanMeshHasNoFindings(t *testing.T) {
	s, d := clean()
	if got := Check(s, d); len(got) != 0 {
		t.Fatalf("findings on a clean mesh: %+v", got)
	}
}

// Each case breaks one thing in a clean mesh and names the finding it
// must produce: rule, severity, object, and words of the problem and fix.
func TestEachRuleFindsItsProblemAndNamesObjectAndFix(t *testing.T) {
	type want struct {
		rule     Rule
		severity Severity
		object   string
		problem  string
		fix      string
	}
	for _, tc := range []struct {
		name   string
		break_ func(s *State, d *Desired)
		want   []want
	}{
		{"a non-target istiod is not ready", func(s *State, d *Desired) {
			cp := healthy("asm-1-28")
			cp.Ready, cp.Available = 0, 0
			s.ControlPlanes["asm-1-28"] = cp
			d.Versions = []string{"asm-1-28", "asm-1-29"}
		}, []want{{RuleIstiodReady, Error, "Deployment/aks-istio-system/istiod-asm-1-28", "0 ready", "describe deployment istiod-asm-1-28"}}},
		{"the target is not installed", func(s *State, d *Desired) {
			delete(s.ControlPlanes, "asm-1-29")
		}, []want{{RuleIstiodReady, Error, "Deployment/aks-istio-system/istiod-asm-1-29", "not installed", "meshops sync"}}},
		{"the tag points at another revision", func(s *State, d *Desired) {
			s.ControlPlanes["asm-1-28"] = healthy("asm-1-28")
			d.Versions = []string{"asm-1-28", "asm-1-29"}
			s.Tags["prod-stable"] = observe.Tag{Name: "prod-stable", Webhook: "istio-revision-tag-prod-stable-aks-istio-system", Revision: "asm-1-28"}
		}, []want{{RuleTag, Error, "MutatingWebhookConfiguration/istio-revision-tag-prod-stable-aks-istio-system", "points at asm-1-28", "meshops sync"}}},
		{"a pod in a mesh namespace has no sidecar", func(s *State, d *Desired) {
			w := workload(s, "maestro", "maestro-api")
			w.Pods = append(w.Pods, observe.Pod{Name: "maestro-api-3"})
		}, []want{{RuleInjection, Error, "Deployment/maestro/maestro-api", "1 pod(s) in mesh namespace maestro", "rollout restart deployment/maestro-api"}}},
		{"a pod that opted out is not missing a sidecar", func(s *State, d *Desired) {
			w := workload(s, "maestro", "maestro-api")
			w.Pods = append(w.Pods, observe.Pod{Name: "maestro-api-3", Sidecar: mesh.Sidecar{OptedOut: true}})
		}, nil},
		{"a namespace pinned to a revision", func(s *State, d *Desired) {
			s.Namespaces["fleet"] = observe.Namespace{Name: "fleet", Rev: "asm-1-29"}
		}, []want{{RuleNamespaceLabel, Error, "Namespace/fleet", "pinned to revision asm-1-29", "istio.io/rev=prod-stable"}}},
		{"a namespace using istio-injection=enabled", func(s *State, d *Desired) {
			s.Namespaces["fleet"] = observe.Namespace{Name: "fleet", Injection: "enabled"}
		}, []want{{RuleNamespaceLabel, Error, "Namespace/fleet", "istio-injection=enabled", "istio-injection-"}}},
		{"a mesh namespace with istio-injection=disabled", func(s *State, d *Desired) {
			s.Namespaces["maestro"] = observe.Namespace{Name: "maestro", Rev: "prod-stable", Injection: "disabled"}
		}, []want{{RuleNamespaceLabel, Error, "Namespace/maestro", "gets no sidecars", "istio-injection-"}}},
		{"an empty revision outside versions is a warning", func(s *State, d *Desired) {
			s.ControlPlanes["asm-1-27"] = healthy("asm-1-27")
		}, []want{{RuleLeftoverRevision, Warning, "Deployment/aks-istio-system/istiod-asm-1-27", "not in svc.istio.versions", "remove it"}}},
		{"a revision outside versions with pods on it is an error", func(s *State, d *Desired) {
			s.ControlPlanes["asm-1-27"] = healthy("asm-1-27")
			s.ProxyTags["asm-1-27"] = "1.27.3"
			s.Namespaces["fleet"] = observe.Namespace{Name: "fleet", Rev: "prod-stable"}
			s.Workloads = append(s.Workloads, observe.Workload{Kind: ref.CronJob, Namespace: "fleet", Name: "gc",
				Pods: []observe.Pod{injected("gc-1", "asm-1-27", "1.27.3")}})
		}, []want{{RuleLeftoverRevision, Error, "Deployment/aks-istio-system/istiod-asm-1-27", "CronJob/fleet/gc", "move them to asm-1-29"}}},
		{"a tag outside the config", func(s *State, d *Desired) {
			s.Tags["prod-canary"] = observe.Tag{Name: "prod-canary", Webhook: "istio-revision-tag-prod-canary-aks-istio-system", Revision: "asm-1-29"}
		}, []want{{RuleLeftoverTag, Warning, "MutatingWebhookConfiguration/istio-revision-tag-prod-canary-aks-istio-system", "not the config's tag prod-stable", "istioctl tag remove prod-canary"}}},
		{"a tag outside the config that namespaces still use", func(s *State, d *Desired) {
			s.Tags["prod-canary"] = observe.Tag{Name: "prod-canary", Webhook: "istio-revision-tag-prod-canary-aks-istio-system", Revision: "asm-1-29"}
			s.Namespaces["fleet"] = observe.Namespace{Name: "fleet", Rev: "prod-canary"}
		}, []want{{RuleLeftoverTag, Error, "MutatingWebhookConfiguration/istio-revision-tag-prod-canary-aks-istio-system", "namespaces fleet still use it", "istio.io/rev=prod-stable"}}},
		{"a workload runs an older proxy than its revision injects", func(s *State, d *Desired) {
			s.ProxyTags["asm-1-29"] = "1.29.2"
			s.Workloads = slices.DeleteFunc(s.Workloads, func(w observe.Workload) bool { return w.Namespace == "aks-istio-ingress" })
		}, []want{{RuleStaleProxy, Error, "Deployment/maestro/maestro-api", "run proxy 1.29.1; revision asm-1-29 injects 1.29.2", "rollout restart deployment/maestro-api"}}},
		{"the gateway runs an older proxy than the tag's revision injects", func(s *State, d *Desired) {
			w := workload(s, "aks-istio-ingress", "aks-istio-ingressgateway-external")
			w.Pods[0].Sidecar.Image = "mcr.microsoft.com/oss/istio/proxyv2:1.28.5"
		}, []want{{RuleStaleProxy, Error, "Deployment/aks-istio-ingress/aks-istio-ingressgateway-external", "proxy 1.28.5", "rollout restart"}}},
		{"a revision whose injector values are unknown says nothing about proxies", func(s *State, d *Desired) {
			delete(s.ProxyTags, "asm-1-29")
		}, nil},
		{"the gateway Service lost its public IP annotation", func(s *State, d *Desired) {
			s.LoadBalancers[0].Annotations = map[string]string{plan.AzureLBResourceGroupAnnotation: "rg-1"}
		}, []want{{RuleIngressService, Error, "Service/aks-istio-ingress/aks-istio-ingressgateway-external", plan.AzurePIPNameAnnotation, "meshops sync"}}},
		{"another LoadBalancer Service has no public IP annotation and no address", func(s *State, d *Desired) {
			s.LoadBalancers = append(s.LoadBalancers, observe.Ingress{Namespace: "aks-istio-ingress", Name: "internal"})
		}, []want{
			{RuleIngressService, Error, "Service/aks-istio-ingress/internal", "public IP not pinned", plan.AzurePIPNameAnnotation},
			{RuleIngressService, Error, "Service/aks-istio-ingress/internal", "no address", "describe service internal"},
		}},
		{"no public IP in the config: annotations are not checked", func(s *State, d *Desired) {
			d.IngressAnnotations = nil
			s.LoadBalancers[0].Annotations = nil
		}, nil},
		{"the gateway Service is missing", func(s *State, d *Desired) {
			s.LoadBalancers = nil
		}, []want{{RuleIngressService, Error, "Service/aks-istio-ingress/aks-istio-ingressgateway-external", "missing", "enable-ingress-gateway"}}},
		{"no mesh-wide STRICT mTLS", func(s *State, d *Desired) {
			s.PeerAuthentications[0].Mode = "PERMISSIVE"
		}, []want{
			{RuleMTLS, Error, "PeerAuthentication/aks-istio-system/default", "no mesh-wide PeerAuthentication with mode STRICT", "spec.mtls.mode STRICT"},
			{RuleMTLS, Error, "PeerAuthentication/aks-istio-system/default", "mTLS PERMISSIVE", "postureExemptions"},
		}},
		{"a STRICT policy with a selector is not mesh-wide", func(s *State, d *Desired) {
			s.PeerAuthentications[0].Selector = true
		}, []want{{RuleMTLS, Error, "PeerAuthentication/aks-istio-system/default", "no mesh-wide", "no selector"}}},
		{"a namespace disables mTLS", func(s *State, d *Desired) {
			s.PeerAuthentications = append(s.PeerAuthentications, PeerAuthentication{Object: ref.Object{Group: "security.istio.io", Kind: "PeerAuthentication", Namespace: "maestro", Name: "default"}, Mode: "DISABLE"})
		}, []want{{RuleMTLS, Error, "PeerAuthentication/maestro/default", "mTLS DISABLE for every workload of namespace maestro", "portLevelMtls"}}},
		{"an exempted PERMISSIVE policy is not reported", func(s *State, d *Desired) {
			s.PeerAuthentications = append(s.PeerAuthentications, PeerAuthentication{Object: ref.Object{Group: "security.istio.io", Kind: "PeerAuthentication", Namespace: "maestro", Name: "legacy"}, Mode: "PERMISSIVE", Selector: true})
			d.Exemptions = []string{"PeerAuthentication/maestro/legacy"}
		}, nil},
		{"a Gateway's TLS Secret is missing", func(s *State, d *Desired) {
			s.Gateways[0].Credentials[0].Present = false
		}, []want{{RuleGatewayCredential, Error, "Gateway/aks-istio-ingress/frontend", "aks-istio-ingress/frontend-credential does not exist", "Key Vault"}}},
		{"a TLS Secret meshops may not read is a warning, not a guess", func(s *State, d *Desired) {
			s.Gateways[0].Credentials[0] = Credential{Secret: s.Gateways[0].Credentials[0].Secret, Unreadable: true}
		}, []want{{RuleGatewayCredential, Warning, "Gateway/aks-istio-ingress/frontend", "could not be checked", "get on secrets"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d := clean()
			tc.break_(s, &d)
			got := Check(s, d)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				f := got[i]
				if f.Rule != w.rule || f.Severity != w.severity || f.Object.String() != w.object ||
					!strings.Contains(f.Problem, w.problem) || !strings.Contains(f.Fix, w.fix) {
					t.Errorf("finding %d = %+v\nwant rule %s, %s, object %s, problem ~%q, fix ~%q", i, f, w.rule, w.severity, w.object, w.problem, w.fix)
				}
			}
		})
	}
}

func TestOnlyFindingsAboutTheRolloutConcernIt(t *testing.T) {
	_, d := clean()
	moved := ref.Workload{Kind: ref.Deployment, Namespace: "maestro", Name: "moved"}
	old := ref.Workload{Kind: ref.Deployment, Namespace: "maestro", Name: "predates-the-label"}
	for _, tc := range []struct {
		f    Finding
		want bool
	}{
		{Finding{Rule: RuleIstiodReady, Revision: "asm-1-29"}, true},
		{Finding{Rule: RuleIstiodReady, Revision: "asm-1-28"}, false},
		{Finding{Rule: RuleInjection, Workload: &moved, Object: moved.Object()}, true},
		{Finding{Rule: RuleInjection, Workload: &old, Object: old.Object()}, false},
		{Finding{Rule: RuleIngressService}, true},
		{Finding{Rule: RuleStaleProxy, Workload: &moved}, false},
		{Finding{Rule: RuleGatewayCredential}, false},
		{Finding{Rule: RuleMTLS}, false},
		{Finding{Rule: RuleLeftoverRevision}, false},
		{Finding{Rule: RuleNamespaceLabel}, false},
	} {
		if got := ConcernsRollout(d, []ref.Workload{moved}, tc.f); got != tc.want {
			t.Errorf("ConcernsRollout(%s %s %s) = %v, want %v", tc.f.Rule, tc.f.Revision, tc.f.Object, got, tc.want)
		}
	}
}
