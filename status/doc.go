// Package status is the live view of the mesh and of meshops in one
// Report: the tag and the revision it points at, each control-plane
// revision with its istiod health, workloads per revision with the names of
// stragglers, and meshops' record (suspended, last result, next run, bad
// revisions, the rollout under way, the git source's error).
//
// It owns that model and its views only: Build is pure over an
// observe.Snapshot and a state.Record, Observe reads both once, and the
// renderers (text, JSON, a server-rendered HTML page and its http.Handler)
// only read a Report. It decides nothing and writes nothing; the command
// line and `meshops run` wire it.
package status
