package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
)

func newSyncCommand(g *globalFlags) *cobra.Command {
	var (
		cf               configFlags
		dryRun           bool
		retryBadRevision bool
		forceConflicts   bool
		source           sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Make the cluster match the config repo once: plan, then apply the plan",
		Long: `sync plans like meshops plan, prints the plan, then executes it step by step:
server-side apply of the mesh config and policies, namespace labels, the
revision-tag move between two gates, health-gated restarts, verify and prune.
A failure after the tag moved rolls back when autoRollback is on. Progress is
recorded in the cluster, so running sync again after a crash resumes.
Exit codes: 0 in sync or applied, 1 error or blocked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			src, err := source.build(g.logger())
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			co, err := src.Fetch(ctx)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("fetching the config repo: %w", err)}
			}
			cfgOpts := cf.opts
			cfgOpts.RepoPath = co.Path
			cfg, cl, p, err := g.computePlan(ctx, cfgOpts, retryBadRevision)
			if err != nil {
				return err
			}
			if err := plan.RenderText(out, p, plan.TextOptions{}); err != nil {
				return &exitError{code: 1, err: err}
			}
			if dryRun {
				fmt.Fprintln(out, "\n--dry-run: nothing applied")
				return nil
			}
			if !p.Pending() && !p.Blocked {
				return nil
			}
			fmt.Fprintln(out)
			opts := apply.NewOptions(cfg)
			opts.ForceConflicts = forceConflicts
			opts.Log = g.logger()
			opts.Progress = progressPrinter(out, len(p.Steps))
			ex := &apply.Executor{Cluster: cl.Cluster, Store: cl.Store, Options: opts}
			res, err := ex.Execute(ctx, p, cfg)
			fmt.Fprintf(out, "\n%d applied, %d namespaces labelled, tag moved: %v, %d restarted, %d pruned, rolled back: %v, in %s\n",
				res.Applied, res.Labelled, res.TagMoved, res.Restarted, res.Pruned, res.RolledBack, res.Duration.Round(time.Millisecond))
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(out, "in sync with %s at %s\n", p.Target, shortOr(p.Commit, "the working tree"))
			return nil
		},
	}
	cf.register(cmd)
	source.register(cmd, &cf.opts.RepoPath)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&retryBadRevision, "retry-bad-revision", false, "try a target revision again that failed and was rolled back at this commit")
	cmd.Flags().BoolVar(&forceConflicts, "force-conflicts", false, "take fields that another field manager owns")
	return cmd
}

// progressPrinter prints one line per step as it ends, with its elapsed
// time: what a person watching a rollout needs.
func progressPrinter(w io.Writer, total int) func(apply.Event) {
	var mu sync.Mutex // restarts report from several workers
	return func(ev apply.Event) {
		if ev.Status == apply.StepStarted {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		pos := fmt.Sprintf("[%d/%d]", ev.Index+1, total)
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

func shortOr(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
