package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/state"
)

func newStatusCommand(g *globalFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print meshops' record in the cluster: last commit, result, error, next run, bad revisions, rollout progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			rec, err := cl.Store.Load(cmd.Context())
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			switch format {
			case "text":
				printStatus(cmd.OutOrStdout(), rec, time.Now())
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					*state.Record
					InventoryCount int `json:"inventoryCount"`
				}{rec, len(rec.Inventory)})
			default:
				return &exitError{code: 1, err: fmt.Errorf("--format %q: expected text or json", format)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
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
	use, short := "suspend", "Stop the loop from applying anything; it keeps planning and reporting"
	if !suspend {
		use, short = "resume", "Let a suspended loop apply again"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if _, err := cl.Store.Update(cmd.Context(), func(r *state.Record) { r.Suspended = suspend }); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "meshops %sed (record %s/%s)\n", use, cl.Store.Namespace, state.DefaultName)
			return nil
		},
	}
}
