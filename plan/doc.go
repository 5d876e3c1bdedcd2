// Package plan decides what makes the cluster match the config repo. It
// owns the Plan: typed, ordered, immutable steps, each with a phase, an
// explicit operation (Op) and a typed Target, built by pure functions
// (Classify, SplitWorkloads, Build) from an observe.Snapshot and the
// server-side dry-run diff of the manifests; and its renderers (text,
// Markdown, JSON). Compute is the only part that reads the cluster, and it
// changes nothing.
package plan
