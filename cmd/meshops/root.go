package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/state"
)

// globalFlags are shared by every command.
type globalFlags struct {
	// kube is kubectl's own connection flags (k8s.io/cli-runtime):
	// --kubeconfig, --context, -n/--namespace and --request-timeout.
	kube *genericclioptions.ConfigFlags
	// requestTimeout is --request-timeout, kept out of kube: a value in
	// client-go's overrides, even the default, stops it from falling back
	// to the in-cluster config in a pod. Parsed as kubectl parses it.
	requestTimeout string
	// command is the context of the command under way (withTimeout).
	command   context.Context
	logFormat string
	verbosity int
	noColor   bool
	// stateNamespace holds meshops' state ConfigMap; it also names the
	// owner stamped on applied objects.
	stateNamespace string
}

// namespace is -n: where a command shows cluster objects, only those in
// it; "" for all.
func (g *globalFlags) namespace() string {
	if g.kube.Namespace == nil {
		return ""
	}
	return *g.kube.Namespace
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{kube: newKubeFlags()}
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
	g.kube.AddFlags(pf)
	pf.Lookup("namespace").Usage = "show only the cluster objects in this namespace (plan: its steps and restarts)"
	pf.StringVar(&g.requestTimeout, "request-timeout", defaultRequestTimeout.String(), "how long the API server may take to start answering a request, e.g. 10s or 1m (a watch may then last longer); 0: no limit")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.CountVarP(&g.verbosity, "verbose", "v", "more log detail (repeat for more)")
	pf.BoolVar(&g.noColor, "no-color", false, "never colour the output (so does a non-empty $NO_COLOR)")
	pf.StringVar(&g.stateNamespace, "state-namespace", state.DefaultNamespace, "namespace of meshops' state record (created on first sync)")
	root.AddCommand(newVersionCommand(), newValidateCommand(), newPlanCommand(g), newSyncCommand(g), newStatusCommand(g), newSuspendCommand(g, true), newSuspendCommand(g, false), newRunCommand(g), newCommentCommand(g))
	root.AddCommand(newVerifyCommand(g))
	return root
}

// newKubeFlags keeps of kubectl's flags those meshops honours; the
// others (impersonation, tokens on the command line) stay in kubeconfigs.
func newKubeFlags() *genericclioptions.ConfigFlags {
	str := func(v string) *string { return &v }
	return &genericclioptions.ConfigFlags{KubeConfig: str(""), Context: str(""), Namespace: str("")}
}

// timeoutFlag adds --timeout, the bound on the whole command, to a command
// that ends (run does not), with its default.
func timeoutFlag(cmd *cobra.Command, def time.Duration) *time.Duration {
	d := new(time.Duration)
	cmd.Flags().DurationVar(d, "timeout", def, "give up after this long in all, whatever the command is waiting for (0: no limit)")
	return d
}

// withTimeout bounds ctx by --timeout (0: unbounded) and keeps it as the
// command's context, which every request to the API server then honours:
// client-go's discovery takes no context of its own.
func (g *globalFlags) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	g.command = ctx
	return ctx, cancel
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
