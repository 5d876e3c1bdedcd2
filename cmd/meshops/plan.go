package main

import (
	"fmt"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/sync/reconcile"
)

func newPlanCommand(g *globalFlags) *cobra.Command {
	var (
		cf       configFlags
		format   string
		output   string
		base     string
		maxBytes int
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the ordered steps that would make the cluster match the config repo",
		Long: `plan observes the live cluster, diffs it against the config repo by server-side
dry run, and prints the ordered steps sync would take. It changes nothing.
Exit codes: 0 nothing to do, 2 changes pending (or blocked), 1 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var bc *baseConfig
			if base != "" {
				b, err := loadBase(ctx, cf.opts, base)
				if err != nil {
					return err
				}
				bc = b
			}
			r, stop := g.engine("meshops plan", reconcile.DirSource{Path: cf.opts.RepoPath}, reconcile.Options{Config: cf.opts, DryRun: true, Log: g.logger()}, false)
			defer stop()
			res, err := r.Reconcile(ctx, "meshops plan")
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			p := res.Plan
			if bc != nil {
				if err := bc.compare(p, res.Config); err != nil {
					return err
				}
			}

			var w io.Writer = cmd.OutOrStdout()
			color := false
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				defer f.Close()
				w = f
			} else if f, ok := w.(*os.File); ok {
				color = term.IsTerminal(int(f.Fd()))
			}
			switch format {
			case "text":
				err = plan.RenderText(w, p, plan.TextOptions{Color: color, Diffs: true})
			case "json":
				err = plan.RenderJSON(w, p)
			case "markdown":
				if maxBytes <= 0 {
					maxBytes = math.MaxInt
				}
				err = plan.RenderMarkdown(w, p, plan.MarkdownOptions{MaxBytes: maxBytes})
			default:
				err = fmt.Errorf("--format %q: expected text, markdown or json", format)
			}
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if p.Pending() || p.Blocked {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, markdown or json")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the plan to this file instead of stdout")
	cmd.Flags().StringVar(&base, "base", "", "git ref the change merges into (e.g. origin/main): add what the change does to the config itself")
	cmd.Flags().IntVar(&maxBytes, "max-bytes", plan.DefaultMarkdownMaxBytes, "markdown: past this size the diffs are left out with a note; 0 keeps everything (for a CI artifact)")
	return cmd
}
