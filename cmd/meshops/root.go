package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/state"
)

// globalFlags are shared by every command.
type globalFlags struct {
	kubeconfig string
	context    string
	logFormat  string
	verbosity  int
	// stateNamespace holds meshops' state ConfigMap; it also names the
	// owner stamped on applied objects.
	stateNamespace string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "meshops",
		Short: "Keep an Istio service mesh exactly as a config git repository declares it",
		Long: `meshops reads a config repository (layered values and mesh manifests), observes
the live cluster, plans the ordered steps that make it match, and applies them:
server-side apply of policies, the revision-tag flip, and workload restarts gated
on control-plane health, with rollback.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&g.context, "context", "", "kubeconfig context to use")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.CountVarP(&g.verbosity, "verbose", "v", "more log detail (repeat for more)")
	pf.StringVar(&g.stateNamespace, "state-namespace", state.DefaultNamespace, "namespace of meshops' state record (created on first sync)")
	root.AddCommand(newVersionCommand(), newValidateCommand(), newPlanCommand(g), newSyncCommand(g), newStatusCommand(g), newSuspendCommand(g, true), newSuspendCommand(g, false), newRunCommand(g), newCommentCommand(g))
	root.AddCommand(newVerifyCommand(g))
	return root
}

// logger builds the structured logger every engine receives; logs go to
// stderr so that stdout carries only the command's output (plans, YAML).
// Every line passes the one masking rule (redact.Handler).
func (g *globalFlags) logger() *slog.Logger {
	level := slog.LevelInfo
	if g.verbosity > 0 {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		return slog.New(redact.Handler(slog.NewJSONHandler(os.Stderr, opts)))
	}
	return slog.New(redact.Handler(slog.NewTextHandler(os.Stderr, opts)))
}
