// Package state is what meshops remembers in the cluster between runs: the
// last commit it converged to, what it applied (the inventory that drives
// pruning), revisions that failed a rollout, and the progress of the
// rollout under way, so a re-run after a crash resumes instead of starting
// over. The record is one ConfigMap, so it needs nothing but core RBAC and
// survives meshops' own pod.
package state
