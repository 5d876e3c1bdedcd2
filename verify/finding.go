package verify

import (
	"github.com/meshops/meshops/ref"
)

// Severity says whether a finding fails verification.
type Severity string

const (
	// Error: the mesh is not as it should be; `meshops verify` exits 1.
	Error Severity = "error"
	// Warning: worth a look, not broken (a leftover, an unusual setting).
	Warning Severity = "warning"
)

// Rule names the check that produced a finding, so callers can choose
// which findings concern them without parsing messages.
type Rule string

const (
	RuleIstiodReady       Rule = "istiod-ready"
	RuleTag               Rule = "tag"
	RuleInjection         Rule = "injection-coverage"
	RuleNamespaceLabel    Rule = "namespace-label"
	RuleLeftoverRevision  Rule = "leftover-revision"
	RuleLeftoverTag       Rule = "leftover-tag"
	RuleStaleProxy        Rule = "stale-proxy"
	RuleIngressService    Rule = "ingress-service"
	RuleMTLS              Rule = "mtls"
	RuleGatewayCredential Rule = "gateway-credential"
)

// Finding is one thing wrong with the mesh: which rule, how bad, the
// object, what is wrong and how to fix it.
type Finding struct {
	Rule     Rule       `json:"rule"`
	Severity Severity   `json:"severity"`
	Object   ref.Object `json:"object"`
	// Workload is set when the object is a workload (or bare pod), so a
	// caller can compare it with the workloads it moved.
	Workload *ref.Workload `json:"-"`
	// Revision is the control-plane revision the finding is about, if any.
	Revision string `json:"revision,omitempty"`
	// Pods names the pods concerned, for workload findings.
	Pods    []string `json:"pods,omitempty"`
	Problem string   `json:"problem"`
	Fix     string   `json:"fix"`
}

// Errors counts the error-severity findings.
func Errors(findings []Finding) int {
	n := 0
	for _, f := range findings {
		if f.Severity == Error {
			n++
		}
	}
	return n
}
