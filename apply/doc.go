// Package apply makes a plan.Plan true, safely: server-side apply of the
// mesh config and policies through fluxcd/pkg/ssa, namespace labels, the
// revision-tag flip between two gates, restarts that wait on each
// workload's health and are paced by a mesh-wide disruption budget
// (budget.go), verification, pruning, and rollback when a rollout
// fails. It dispatches on each step's Op and never edits the plan: its run
// state (where a rollback returns, what moved) is its own. Every step is
// idempotent and progress is recorded in the cluster, so a re-run after a
// crash resumes without restarting a workload twice.
package apply
