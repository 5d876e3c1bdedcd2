// Package mesh holds the Istio domain knowledge that several meshops engines
// share: how control-plane revisions are named and ordered, and (later) the
// shape of revision-tag webhooks and sidecar status. It does no I/O and knows
// nothing about where configuration comes from; the configs package feeds it.
package mesh
