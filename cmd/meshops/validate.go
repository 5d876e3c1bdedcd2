package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/configs"
)

func newValidateCommand() *cobra.Command {
	var (
		cf   configFlags
		show bool
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a config repo's values and manifests; no cluster needed",
		Long: `validate resolves the values for this cluster, loads every manifest and checks
meshops' rules: default-deny in every mesh namespace, well-formed SPIFFE principals,
known ext-authz providers, no duplicates, target revision among the versions.
Every problem is reported with its file, line, field and fix; the exit code is 1
when there is any. The cluster is never contacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := configs.Load(cmd.Context(), cf.opts)
			var problems configs.Problems
			if err != nil && !errors.As(err, &problems) {
				return &exitError{code: 1, err: err}
			}
			if show && cfg != nil {
				out, serr := configs.Show(cfg)
				if serr != nil {
					return &exitError{code: 1, err: serr}
				}
				fmt.Fprint(cmd.OutOrStdout(), string(out))
			}
			if len(problems) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", cf.opts.RepoPath, problems)}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: valid (%d managed objects, target %s, tag %s)\nversions: %s\n",
				cf.opts.RepoPath, len(cfg.Manifests), cfg.Istio.Target, cfg.Istio.Tag, cfg.Istio.ShapeSummary())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&show, "show", false, "also print the resolved svc.istio values and the managed objects as YAML")
	return cmd
}
