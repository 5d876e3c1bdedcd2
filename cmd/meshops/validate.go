package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/configs"
)

func newValidateCommand() *cobra.Command {
	var (
		cf   configFlags
		of   outputFlags
		show bool
	)
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a config repo's values and manifests; no cluster needed",
		Long: `validate resolves the values for this cluster, loads every manifest and checks
meshops' rules: default-deny in every mesh namespace, well-formed SPIFFE principals,
known ext-authz providers, no duplicates, target revision among the versions.
Every problem is reported with its file, line, field and fix; the exit code is 1
when there is any. The cluster is never contacted. DIR is the repo, as
--repo-path; -o prints what --show prints, in that format.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("repo-path") {
					return &usageError{err: errors.New("the repo is given twice: as DIR and as --repo-path"), command: cmd.CommandPath()}
				}
				cf.opts.RepoPath = args[0]
			}
			cfg, err := configs.Load(cmd.Context(), cf.opts)
			var problems configs.Problems
			if err != nil && !errors.As(err, &problems) {
				return &exitError{code: exitFailed, err: err}
			}
			if (show || cmd.Flags().Changed("output")) && cfg != nil {
				if err := showConfig(cmd, &of, cfg); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
			}
			if len(problems) > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", cf.opts.RepoPath, problems)}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: valid (%d managed objects, target %s, tag %s)\nversions: %s\n",
				cf.opts.RepoPath, len(cfg.Manifests), cfg.Istio.Target, cfg.Istio.Tag, cfg.Istio.ShapeSummary())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&show, "show", false, "also print the resolved svc.istio values and the managed objects (YAML unless -o says otherwise)")
	of.register(cmd, formatYAML, formatJSON)
	return documentExitCodes(cmd,
		exitCode{exitOK, "valid"},
		exitCode{exitFailed, "problems (each with file, line, field and fix), or the repo cannot be read"},
	)
}

// showConfig prints configs.Show's document in -o's format.
func showConfig(cmd *cobra.Command, of *outputFlags, cfg *configs.Config) error {
	out, err := configs.Show(cfg)
	if err != nil {
		return err
	}
	return of.write(cmd, func(w io.Writer, _ bool) error {
		if of.format == formatJSON {
			var doc any
			if err := yaml.Unmarshal(out, &doc); err != nil {
				return err
			}
			return writeData(w, formatJSON, doc)
		}
		_, err := w.Write(out)
		return err
	})
}
