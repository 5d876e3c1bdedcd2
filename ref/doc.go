// Package ref names the Kubernetes objects and workloads that meshops'
// plan, executor and record talk about, as typed values with the API group,
// so that no package formats an id and parses it back (an id without the
// group confuses Istio's Gateway with the Gateway API's).
package ref
