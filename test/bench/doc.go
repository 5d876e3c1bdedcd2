// Package bench measures meshops at fleet scale on the full local control
// plane (test/e2e: kube-apiserver, etcd, kube-controller-manager,
// kube-scheduler, kwok with a pod start-up delay, real istiod revisions)
// and prints one table: observe + plan at 100 to 2,000 workloads, a full
// upgrade by the executor next to the same upgrade done by a model of
// ARO-Tools' istio-upgrade strategy (every stale workload of a namespace at
// once, ten namespaces at a time) and the way the shell script does it
// (kubectl rollout restart, then rollout status, one Deployment after
// another), and webhook-to-reconcile latency.
//
// Its benchmarks are in _test files and start a control plane only when
// -test.bench is set, so `go test ./...` stays fast; `make bench` runs them
// all (docs/benchmarks.md).
package bench
