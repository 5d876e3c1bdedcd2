// Package mesh holds the Istio domain knowledge that several meshops engines
// share: how control-plane revisions are named and ordered, which revision
// injected a pod (sidecar status), the names and shape of revision objects
// and tags, and when a control plane is healthy. It does no I/O and knows
// nothing about where configuration comes from; the configs package feeds it.
package mesh
