package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/verify"
)

func newVerifyCommand(g *globalFlags) *cobra.Command {
	var (
		cf     configFlags
		output string
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
Each finding names the object and the fix. It changes nothing.
Exit codes: 0 no error finding (warnings allowed), 1 error findings or error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			render := map[string]func(*cobra.Command, []verify.Finding) error{
				"text": func(c *cobra.Command, f []verify.Finding) error { return verify.RenderText(c.OutOrStdout(), f) },
				"json": func(c *cobra.Command, f []verify.Finding) error { return verify.RenderJSON(c.OutOrStdout(), f) },
			}[output]
			if render == nil {
				return &exitError{code: 1, err: fmt.Errorf("--output %q: expected text or json", output)}
			}
			// The config first: bad input is reported without a cluster.
			cfg, err := configs.Load(cmd.Context(), cf.opts)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", cf.opts.RepoPath, err)}
			}
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			s, err := verify.Observe(cmd.Context(), cl.Client, verify.OptionsFor(cfg))
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			findings := verify.Check(s, verify.DesiredFor(cfg))
			if err := render(cmd, findings); err != nil {
				return &exitError{code: 1, err: err}
			}
			if verify.Errors(findings) > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (for pipelines)")
	return cmd
}
