package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/status"
)

// defaultStatusTimeout bounds status, suspend and resume: a read or a
// write of one ConfigMap.
const defaultStatusTimeout = time.Minute

func newStatusCommand(g *globalFlags) *cobra.Command {
	var (
		of       outputFlags
		timeout  *time.Duration
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the mesh and meshops in one screen: the tag, each revision's istiod, workloads per revision and the stragglers, and meshops' record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := *timeout
			if watch && !cmd.Flags().Changed("timeout") {
				d = 0 // a watch lasts until Ctrl-C unless --timeout is given
			}
			ctx, cancel := g.withTimeout(cmd.Context(), d)
			defer cancel()
			cl, err := g.connect()
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			observe := func(ctx context.Context) (status.Report, error) {
				return status.Observe(ctx, cl.Client, cl.Store, status.DefaultOptions())
			}
			if watch {
				ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
				if err := of.write(cmd, func(w io.Writer, tty bool) error {
					return watchStatus(ctx, w, cmd.ErrOrStderr(), of.format, tty, interval, observe)
				}); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				return nil
			}
			report, err := observe(ctx)
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
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "observe again every --interval until Ctrl-C or --timeout: on a terminal the screen is redrawn; else a report is printed again only when it changed (-o json: one JSON document a line)")
	cmd.Flags().DurationVar(&interval, "interval", status.DefaultWatchOptions().Interval, "with --watch, how often to observe")
	timeout = timeoutFlag(cmd, defaultStatusTimeout)
	cmd.Flags().Lookup("timeout").Usage += "; with --watch, no limit unless given"
	return documentExitCodes(cmd,
		exitCode{exitOK, "printed (--watch: ended by Ctrl-C or --timeout)"},
		exitCode{exitFailed, "error (no record readable, cluster unreachable, timeout)"},
	)
}

// watchStatus is status --watch: on a terminal (text) the screen redrawn
// at each observation, headed by the time; else each report that changed,
// as text headed by its time, as NDJSON (-o json) or as YAML documents.
// An observation that fails after the first is reported on errw and the
// watch goes on.
func watchStatus(ctx context.Context, w, errw io.Writer, format string, tty bool, interval time.Duration,
	observe func(context.Context) (status.Report, error)) error {
	screen := tty && format == formatText
	o := status.DefaultWatchOptions()
	o.Interval, o.Every = interval, screen
	o.OnError = func(err error) { fmt.Fprintf(errw, "meshops: %v (still watching)\n", redact.Error(err)) }
	return status.Watch(ctx, observe, func(r status.Report) error {
		return watchFrame(w, format, screen, interval, r)
	}, o)
}

// watchFrame writes one report of a watch.
func watchFrame(w io.Writer, format string, screen bool, interval time.Duration, r status.Report) error {
	switch format {
	case formatJSON:
		return status.RenderJSONLine(w, r)
	case formatYAML:
		if _, err := io.WriteString(w, "---\n"); err != nil {
			return err
		}
		return writeData(w, formatYAML, r)
	}
	var b bytes.Buffer
	if screen {
		// Home and clear, as watch(1) does; one write per frame.
		b.WriteString("\x1b[H\x1b[2J")
		fmt.Fprintf(&b, "Every %s: meshops status    %s\n\n", interval, r.Time.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(&b, "# meshops status at %s\n", r.Time.UTC().Format(time.RFC3339))
	}
	if err := status.RenderText(&b, r); err != nil {
		return err
	}
	if !screen {
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
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
