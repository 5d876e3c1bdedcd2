// Package reconcile is meshops' one engine: a Reconciler fetches the config
// repo, loads it, plans against the live cluster, decides (Decide: dry run,
// suspended, report only, blocked, nothing to do, execute) and applies.
// meshops plan, sync, sync --dry-run and run all call it with different
// Options, so a rule added here holds for every entry point. The Loop runs
// reconciles on a schedule and on triggers (push webhooks), one at a time,
// coalescing what arrives while one runs.
package reconcile
