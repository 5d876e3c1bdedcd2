package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

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
		yes     bool
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
--ignore-suspend is given, and the result is recorded as run records it.

At a terminal, sync asks before it changes the cluster (only 'yes' applies;
--yes skips the question; without a terminal on stdin it never asks), shows
the steps in flight with what each waits for, and logs only warnings and
errors unless -v or --log-format is given. In a pipe it prints one line per
step as it ends, numbered in the order the steps end. It ends with a summary
of what changed, by kind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			out, in := cmd.OutOrStdout(), cmd.InOrStdin()
			tty := g.con.isTerminal(out)
			color := colorOn(tty, g.noColor, os.LookupEnv)
			po := defaultProgressOptions()
			po.live, po.color, po.width = tty, color, func() int { return g.con.width(out) }
			prog := newProgress(out, po)
			if tty {
				g.logTo = prog.above(g.con.stderr)
			}
			src, err := source.build(g.logger())
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			o := opts
			o.Config, o.Log, o.AKS = cf.opts, g.logger(), af.overrides()
			o.Planned = func(p *plan.Plan, d reconcile.Decision) {
				prog.setTotal(len(p.Steps))
				_ = plan.RenderText(out, p, plan.TextOptions{Color: color})
				if d == reconcile.DecisionExecute {
					fmt.Fprintln(out)
				}
			}
			// A person at a terminal confirms; a script or CI (no terminal
			// on stdin) proceeds as it always did.
			if !yes && g.con.isTerminal(in) {
				o.Confirm = func(*plan.Plan) (bool, error) { return askToApply(in, out, g.clusterName()) }
			}
			o.Progress = prog.observe
			r, stop := g.engine("meshops sync", src, o, !o.DryRun)
			defer stop()
			prog.begin()
			res, err := r.Reconcile(ctx, "meshops sync")
			prog.end()
			if errors.As(err, new(reconcile.DeclinedError)) {
				return &exitError{code: exitFailed, err: errors.New("apply cancelled: the answer was not 'yes'; nothing was changed")}
			}
			if res.Decision == reconcile.DecisionSuspended {
				return &exitError{code: exitFailed, err: reconcile.SuspendedError{}}
			}
			if res.Applied != nil {
				fmt.Fprintf(out, "\n%s\n", syncSummary(res.Plan, prog.ended(), res.Applied, err))
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
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "apply without asking (sync asks only when stdin is a terminal)")
	cmd.Flags().BoolVar(&opts.RetryBadRevision, "retry-bad-revision", false, "try a target revision again that failed and was rolled back at this commit")
	cmd.Flags().BoolVar(&opts.ForceConflicts, "force-conflicts", false, "take fields that another field manager owns")
	cmd.Flags().BoolVar(&opts.IgnoreSuspend, "ignore-suspend", false, "apply although the cluster is suspended (meshops suspend)")
	cmd.Flags().DurationVar(&opts.Lock.Wait, "lock-timeout", 0, "how long to wait while another meshops changes the cluster (0: fail at once, naming it)")
	// No default bound: a rollout waits on restarts for as long as the
	// config's budgets allow.
	timeout = timeoutFlag(cmd, 0)
	return documentExitCodes(cmd,
		exitCode{exitOK, "in sync, applied, or --dry-run"},
		exitCode{exitFailed, "error, suspended, locked by another meshops, declined at the question, or the plan changed while asking (a failed rollout is rolled back first when autoRollback is on)"},
		exitCode{exitBlocked, "blocked: the plan cannot proceed; nothing applied (the reason is in the plan and the record)"},
	)
}
