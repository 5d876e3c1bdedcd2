package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/status"
)

// defaultStatusTimeout bounds status, suspend and resume: a read or a
// write of one ConfigMap.
const defaultStatusTimeout = time.Minute

func newStatusCommand(g *globalFlags) *cobra.Command {
	var (
		of      outputFlags
		timeout *time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the mesh and meshops in one screen: the tag, each revision's istiod, workloads per revision and the stragglers, and meshops' record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			report, err := status.Observe(ctx, cl.Client, cl.Store, status.DefaultOptions())
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			err = of.write(cmd, func(w io.Writer, _ bool) error {
				if of.format == formatText {
					return status.RenderText(w, report)
				}
				return writeData(w, of.format, report)
			})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	of.register(cmd, formatText, formatJSON, formatYAML)
	of.keepFormatAlias(cmd)
	timeout = timeoutFlag(cmd, defaultStatusTimeout)
	return documentExitCodes(cmd,
		exitCode{exitOK, "printed"},
		exitCode{exitFailed, "error (no record readable, cluster unreachable, timeout)"},
	)
}

func newSuspendCommand(g *globalFlags, suspend bool) *cobra.Command {
	use, done, short := "suspend", "suspended", "Stop the loop from applying anything; it keeps planning and reporting"
	if !suspend {
		use, done, short = "resume", "resumed", "Let a suspended loop apply again"
	}
	var timeout *time.Duration
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if _, err := cl.Store.Update(ctx, func(r *state.Record) { r.Suspended = suspend }); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "meshops %s (record %s/%s)\n", done, cl.Store.Namespace, state.DefaultName)
			return nil
		},
	}
	timeout = timeoutFlag(cmd, defaultStatusTimeout)
	return documentExitCodes(cmd,
		exitCode{exitOK, done},
		exitCode{exitFailed, "error (cluster unreachable, forbidden, timeout)"},
	)
}
