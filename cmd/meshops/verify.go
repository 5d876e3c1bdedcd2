package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/verify"
)

func newVerifyCommand(g *globalFlags) *cobra.Command {
	var (
		cf      configFlags
		of      outputFlags
		timeout *time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the live mesh against the config repo: istiods, injection, labels, leftovers, proxies, ingress, mTLS, TLS Secrets",
		Long: `verify reads the cluster once and checks what hack/istio-verify-state.sh
checked, and more: every istiod ready; pods in mesh namespaces without a
sidecar; namespaces pinned to a revision or using istio-injection; revisions
and tags installed but not in the config; proxies older than their revision
injects (gateways included); every ingress LoadBalancer Service pinned to its
public IP and with an address; STRICT mTLS mesh-wide and no DISABLE or
PERMISSIVE policy the config does not exempt; every Gateway's TLS Secret.
Each finding names the object and the fix. It changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			// The config first: bad input is reported without a cluster.
			cfg, err := configs.Load(ctx, cf.opts)
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", cf.opts.RepoPath, err)}
			}
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			s, err := verify.Observe(ctx, cl.Client, verify.OptionsFor(cfg))
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			findings := verify.Check(s, verify.DesiredFor(cfg))
			err = of.write(cmd, func(w io.Writer, _ bool) error {
				switch of.format {
				case formatJSON:
					return verify.RenderJSON(w, findings)
				case formatYAML:
					return asYAML(w, func(w io.Writer) error { return verify.RenderJSON(w, findings) })
				}
				return verify.RenderText(w, findings)
			})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if verify.Errors(findings) > 0 {
				return &exitError{code: exitFailed}
			}
			return nil
		},
	}
	cf.register(cmd)
	of.register(cmd, formatText, formatJSON, formatYAML)
	timeout = timeoutFlag(cmd, defaultPlanTimeout)
	return documentExitCodes(cmd,
		exitCode{exitOK, "no error finding (warnings allowed)"},
		exitCode{exitFailed, "error findings, or an error (bad input, cluster unreachable, timeout)"},
	)
}
