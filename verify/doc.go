// Package verify checks a live mesh the way ARO HCP's
// hack/istio-verify-state.sh did by hand, and more: every istiod ready,
// injection coverage, namespaces pinned to a revision or using
// istio-injection, revisions and tags left over, stale proxies (gateways
// included), the ingress LoadBalancer Services, STRICT mTLS and the
// gateways' TLS Secrets.
//
// Observe reads the cluster once (an observe.Snapshot plus the few objects
// the snapshot does not hold); Check is pure and returns typed Findings,
// each naming its object and its fix. `meshops verify` prints them, and
// the sync's verify step fails on those that concern its rollout.
package verify
