package main

import (
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/sync/reconcile"
)

// defaultPlanTimeout bounds a whole plan: the largest measured fleet plans
// in under 2 s, so minutes mean a cluster that stopped answering.
const defaultPlanTimeout = 5 * time.Minute

func newPlanCommand(g *globalFlags) *cobra.Command {
	var (
		cf       configFlags
		af       aksFlags
		of       outputFlags
		base     string
		maxBytes int
		timeout  *time.Duration
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the ordered steps that would make the cluster match the config repo",
		Long: `plan observes the live cluster, diffs it against the config repo by server-side
dry run, and prints the ordered steps sync would take. It changes nothing.
With -n, only the steps in that namespace are shown; the exit code still
describes the whole plan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			var bc *baseConfig
			if base != "" {
				b, err := loadBase(ctx, cf.opts, base)
				if err != nil {
					return err
				}
				bc = b
			}
			r, stop := g.engine("meshops plan", reconcile.DirSource{Path: cf.opts.RepoPath}, reconcile.Options{Config: cf.opts, DryRun: true, Log: g.logger(), AKS: af.overrides()}, false)
			defer stop()
			res, err := r.Reconcile(ctx, "meshops plan")
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			p := res.Plan
			if bc != nil {
				if err := bc.compare(p, res.Config); err != nil {
					return err
				}
			}
			if err := renderPlan(cmd, g, &of, p, maxBytes); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			switch {
			case p.Blocked:
				return &exitError{code: exitBlocked}
			case p.Pending():
				return &exitError{code: exitPending}
			}
			return nil
		},
	}
	cf.register(cmd)
	af.register(cmd)
	of.register(cmd, formatText, formatJSON, formatYAML, formatMarkdown)
	of.keepFormatAlias(cmd)
	cmd.Flags().StringVar(&base, "base", "", "git ref the change merges into (e.g. origin/main): add what the change does to the config itself")
	cmd.Flags().IntVar(&maxBytes, "max-bytes", plan.DefaultMarkdownMaxBytes, "markdown: past this size the diffs are left out with a note; 0 keeps everything (for a CI artifact)")
	timeout = timeoutFlag(cmd, defaultPlanTimeout)
	return documentExitCodes(cmd,
		exitCode{exitOK, "nothing to do"},
		exitCode{exitFailed, "error (bad input, cluster unreachable, timeout)"},
		exitCode{exitPending, "changes pending"},
		exitCode{exitBlocked, "blocked: the plan cannot proceed (the reason is in the plan)"},
	)
}

// renderPlan writes the plan (only -n's namespace, when given) in -o's
// format to stdout or --output-file.
func renderPlan(cmd *cobra.Command, g *globalFlags, of *outputFlags, p *plan.Plan, maxBytes int) error {
	if ns := g.namespace(); ns != "" {
		p = p.InNamespace(ns)
	}
	return of.write(cmd, func(w io.Writer, tty bool) error {
		switch of.format {
		case formatJSON:
			return plan.RenderJSON(w, p)
		case formatYAML:
			return asYAML(w, func(w io.Writer) error { return plan.RenderJSON(w, p) })
		case formatMarkdown:
			if maxBytes <= 0 {
				maxBytes = math.MaxInt
			}
			return plan.RenderMarkdown(w, p, plan.MarkdownOptions{MaxBytes: maxBytes})
		}
		return plan.RenderText(w, p, plan.TextOptions{Color: colorOn(tty, g.noColor, os.LookupEnv), Diffs: true})
	})
}
