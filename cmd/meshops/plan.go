package main

import (
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/plan"
)

// fieldManager is meshops' server-side apply field manager.
const fieldManager = "meshops"

func newPlanCommand(g *globalFlags) *cobra.Command {
	var (
		cf     configFlags
		format string
		output string
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
			cfg, err := configs.Load(ctx, cf.opts)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", cf.opts.RepoPath, err)}
			}
			c, err := g.kubeClient()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			ext := cfg.Settings.Extensions
			snap, err := plan.Observe(ctx, c, plan.ObserveOptions{IstioNamespace: ext.IstioSystemNamespace})
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("observing the cluster: %w", err)}
			}
			rm := ssa.NewResourceManager(c, polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{}),
				ssa.Owner{Field: fieldManager, Group: "meshops.io"})
			objects, err := plan.DiffManifests(ctx, rm, cfg.Manifests)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("dry-run of the manifests:\n%w", err)}
			}
			in := plan.Inputs{Config: cfg, Snapshot: snap, Objects: objects, Commit: headCommit(cf.opts.RepoPath)}
			// The probe shows the proxy image the tag injects today: only
			// meaningful once the tag is on the target.
			if t, ok := snap.Tags[cfg.Istio.Tag]; ok && t.Revision == cfg.Istio.Target.Name {
				for _, ns := range ext.Namespaces {
					if snap.Namespaces[ns].Rev != cfg.Istio.Tag {
						continue
					}
					probe, err := plan.Probe(ctx, c, ns)
					if err != nil {
						g.logger().Warn("injection probe failed", "namespace", ns, "error", err)
						break
					}
					in.Probe = &probe
					break
				}
			}
			p := plan.Build(in)

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
				err = plan.RenderMarkdown(w, p, plan.MarkdownOptions{})
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
	return cmd
}

// headCommit is the config repo's HEAD, short, or "" outside a git checkout.
func headCommit(repoPath string) string {
	repo, err := git.PlainOpenWithOptions(repoPath, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	head, err := repo.Head()
	if err != nil {
		return ""
	}
	return head.Hash().String()[:12]
}
