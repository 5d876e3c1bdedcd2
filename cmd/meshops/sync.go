package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/sync/reconcile"
)

func newSyncCommand(g *globalFlags) *cobra.Command {
	var (
		cf      configFlags
		af      aksFlags
		opts    reconcile.Options
		source  sourceFlags
		timeout *time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Make the cluster match the config repo once: plan, then apply the plan",
		Long: `sync plans like meshops plan, prints the plan, then executes it step by step:
server-side apply of the mesh config and policies, namespace labels, the
revision-tag move between two gates, health-gated restarts, verify and prune.
A failure after the tag moved rolls back when autoRollback is on. Progress is
recorded in the cluster, so running sync again after a crash resumes. It is
the same engine as meshops run: a suspended cluster is not changed unless
--ignore-suspend is given, and the result is recorded as run records it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			out := cmd.OutOrStdout()
			src, err := source.build(g.logger())
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			o := opts
			o.Config, o.Log, o.AKS = cf.opts, g.logger(), af.overrides()
			var total int
			o.Planned = func(p *plan.Plan, d reconcile.Decision) {
				total = len(p.Steps)
				_ = plan.RenderText(out, p, plan.TextOptions{})
				if d == reconcile.DecisionExecute {
					fmt.Fprintln(out)
				}
			}
			o.Progress = progressPrinter(out, func() int { return total })
			r, stop := g.engine("meshops sync", src, o, !o.DryRun)
			defer stop()
			res, err := r.Reconcile(ctx, "meshops sync")
			if res.Decision == reconcile.DecisionSuspended {
				return &exitError{code: exitFailed, err: reconcile.SuspendedError{}}
			}
			if res.Applied != nil {
				a := res.Applied
				fmt.Fprintf(out, "\n%d applied, %d namespaces labelled, tag moved: %v, %d restarted, %d pruned, rolled back: %v, in %s\n",
					a.Applied, a.Labelled, a.TagMoved, a.Restarted, a.Pruned, a.RolledBack, a.Duration.Round(time.Millisecond))
			}
			if err != nil {
				if res.Decision == reconcile.DecisionBlocked {
					return &exitError{code: exitBlocked, err: err}
				}
				return &exitError{code: exitFailed, err: err}
			}
			switch res.Decision {
			case reconcile.DecisionDryRun:
				fmt.Fprintln(out, "\n--dry-run: nothing applied")
			case reconcile.DecisionExecute:
				fmt.Fprintf(out, "in sync with %s at %s\n", res.Plan.Target, res.Plan.Source())
			}
			return nil
		},
	}
	cf.register(cmd)
	source.register(cmd, &cf.opts.RepoPath)
	af.register(cmd)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&opts.RetryBadRevision, "retry-bad-revision", false, "try a target revision again that failed and was rolled back at this commit")
	cmd.Flags().BoolVar(&opts.ForceConflicts, "force-conflicts", false, "take fields that another field manager owns")
	cmd.Flags().BoolVar(&opts.IgnoreSuspend, "ignore-suspend", false, "apply although the cluster is suspended (meshops suspend)")
	cmd.Flags().DurationVar(&opts.Lock.Wait, "lock-timeout", 0, "how long to wait while another meshops changes the cluster (0: fail at once, naming it)")
	// No default bound: a rollout waits on restarts for as long as the
	// config's budgets allow.
	timeout = timeoutFlag(cmd, 0)
	return documentExitCodes(cmd,
		exitCode{exitOK, "in sync, applied, or --dry-run"},
		exitCode{exitFailed, "error, suspended, or locked by another meshops (a failed rollout is rolled back first when autoRollback is on)"},
		exitCode{exitBlocked, "blocked: the plan cannot proceed; nothing applied (the reason is in the plan and the record)"},
	)
}

// progressPrinter prints one line per step as it ends, with its elapsed
// time: what a person watching a rollout needs.
func progressPrinter(w io.Writer, total func() int) func(apply.Event) {
	var mu sync.Mutex // restarts report from several workers
	return func(ev apply.Event) {
		if ev.Status == apply.StepStarted {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		pos := fmt.Sprintf("[%d/%d]", ev.Index+1, total())
		if ev.Index < 0 {
			pos = "[rollback]"
		}
		line := fmt.Sprintf("%-9s %-11s %-7s %-8s %s", pos, ev.Step.Phase, ev.Step.Action, ev.Status, ev.Step.Target)
		if ev.Elapsed > 0 {
			line += fmt.Sprintf(" (%s)", ev.Elapsed.Round(time.Millisecond))
		}
		if ev.Message != "" {
			line += ": " + ev.Message
		}
		fmt.Fprintln(w, line)
	}
}
