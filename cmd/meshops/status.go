package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/state"
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
		Short: "Print meshops' record in the cluster: last commit, result, error, next run, bad revisions, rollout progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.withTimeout(cmd.Context(), *timeout)
			defer cancel()
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			rec, err := cl.Store.Load(ctx)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			err = of.write(cmd, func(w io.Writer, _ bool) error {
				if of.format == formatText {
					printStatus(w, rec, time.Now())
					return nil
				}
				return writeData(w, of.format, struct {
					*state.Record
					InventoryCount int `json:"inventoryCount"`
				}{rec, len(rec.Inventory)})
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

func printStatus(w io.Writer, rec *state.Record, now time.Time) {
	orNone := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "(never)"
		}
		return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), relative(t, now))
	}
	fmt.Fprintf(w, "last applied commit  %s\n", orNone(rec.LastAppliedCommit))
	fmt.Fprintf(w, "last result          %s\n", orNone(string(rec.LastResult)))
	if rec.LastError != "" {
		fmt.Fprintf(w, "last error           %s\n", rec.LastError)
	}
	fmt.Fprintf(w, "last run             %s\n", when(rec.LastRun))
	fmt.Fprintf(w, "next run             %s\n", when(rec.NextRun))
	fmt.Fprintf(w, "suspended            %v\n", rec.Suspended)
	fmt.Fprintf(w, "managed objects      %d\n", len(rec.Inventory))
	if p := rec.Progress; p != nil {
		status := "finished " + when(p.Finished)
		if p.Finished.IsZero() {
			status = "UNFINISHED: the next sync resumes it"
		}
		fmt.Fprintf(w, "rollout              %s → %s at %s, step %d (%s), %d workloads moved, started %s, %s\n",
			orNone(p.From), p.Target, orNone(p.Commit), p.Step+1, p.StepTarget, len(p.Restarted), when(p.Started), status)
	}
	revs := make([]string, 0, len(rec.BadRevisions))
	for rev := range rec.BadRevisions {
		revs = append(revs, rev)
	}
	slices.Sort(revs)
	for _, rev := range revs {
		b := rec.BadRevisions[rev]
		fmt.Fprintf(w, "bad revision         %s at commit %s, %s: %s\n", rev, b.Commit, when(b.Time), b.Error)
	}
}

// relative says how long ago or from now t is, to the second.
func relative(t, now time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
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
