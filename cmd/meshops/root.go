package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	// con is the terminal (or not) the command runs in.
	con console
	// logTo, when set, receives the logs instead of con.stderr (sync's
	// live view writes them above its block).
	logTo io.Writer
	// flags are the persistent flags, to tell a flag given from its default.
	flags *pflag.FlagSet
	// logsAreOutput: the command's output is its logs (run), shown at INFO
	// on a terminal too.
	logsAreOutput bool
}

// namespace is -n: where a command shows cluster objects, only those in
// it; "" for all.
func (g *globalFlags) namespace() string {
	if g.kube.Namespace == nil {
		return ""
	}
	return *g.kube.Namespace
}

func newRootCommand() *cobra.Command { return newRootCommandOn(osConsole()) }

// newRootCommandOn is the command line in con: the process's console, or
// one a test forces to be a terminal.
func newRootCommandOn(con console) *cobra.Command {
	root, _ := newRoot(con)
	return root
}

// newRoot is the command line and the global flags its commands share.
func newRoot(con console) (*cobra.Command, *globalFlags) {
	g := &globalFlags{kube: newKubeFlags(), con: con}
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
	g.flags = pf
	g.kube.AddFlags(pf)
	pf.Lookup("namespace").Usage = "show only the cluster objects in this namespace (plan: its steps and restarts)"
	pf.StringVar(&g.requestTimeout, "request-timeout", defaultRequestTimeout.String(), "how long the API server may take to start answering a request, e.g. 10s or 1m (a watch may then last longer); 0: no limit")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json (given, INFO logs show on a terminal too)")
	pf.CountVarP(&g.verbosity, "verbose", "v", "more log detail (repeat for more); on a terminal, logs below WARN show only with -v or --log-format")
	pf.BoolVar(&g.noColor, "no-color", false, "never colour the output (so does a non-empty $NO_COLOR)")
	pf.StringVar(&g.stateNamespace, "state-namespace", state.DefaultNamespace, "namespace of meshops' state record (created on first sync)")
	root.AddCommand(newVersionCommand(), newValidateCommand(), newPlanCommand(g), newSyncCommand(g), newStatusCommand(g), newSuspendCommand(g, true), newSuspendCommand(g, false), newRunCommand(g), newCommentCommand(g))
	root.AddCommand(newVerifyCommand(g))
	return root, g
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
	opts := &slog.HandlerOptions{Level: g.logLevel()}
	w := g.logTo
	if w == nil {
		w = g.con.stderr
	}
	if g.logFormat == "json" {
		return slog.New(redact.Handler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(redact.Handler(slog.NewTextHandler(w, opts)))
}

// logLevel is -v's, except on a terminal: a person there reads the
// command's own output (the plan, the progress), which INFO lines would
// only repeat, so only warnings and errors are logged unless -v or
// --log-format asks for logs. In a pipe (CI, a pod) logs stay as asked.
func (g *globalFlags) logLevel() slog.Level {
	switch {
	case g.verbosity > 0:
		return slog.LevelDebug
	case !g.logsAreOutput && g.con.isTerminal(g.con.stderr) && !g.flags.Changed("log-format"):
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
