package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/meshops/meshops/redact"
)

// exitError carries a process exit code through cobra, so that commands
// like `plan` can end with 2 ("changes pending") without printing an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func main() {
	if percent, ok := defaultGCPercent(os.LookupEnv); ok {
		debug.SetGCPercent(percent)
	}
	os.Exit(run(os.Args[1:]))
}

// gcPercent is meshops' GC target when GOGC is not set: the heap may grow
// half over what is live between collections, not double. meshops holds
// a config model and decodes streamed lists while it mostly waits on the
// API server, so the extra collections run on idle CPU: meshops plan of
// 2,000 workloads and 10,000 policies peaked at 124-126 MiB instead of
// 144-158 MiB, in the same 1.4-1.5 s (README, Benchmarks). Prometheus
// makes the same trade with its default of 75.
const gcPercent = 50

// defaultGCPercent returns gcPercent unless the user set GOGC, which wins.
func defaultGCPercent(lookup func(string) (string, bool)) (int, bool) {
	if _, set := lookup("GOGC"); set {
		return 0, false
	}
	return gcPercent, true
}

func run(args []string) int {
	return runOn(context.Background(), args, os.Stdin, os.Stdout, os.Stderr, osConsole())
}

// runWith runs the command line with its output and errors going to the
// given writers and nothing on stdin, and returns the exit code.
func runWith(args []string, stdout, stderr io.Writer) int {
	return runOn(context.Background(), args, strings.NewReader(""), stdout, stderr, osConsole())
}

// runOn runs the command line in con, reading answers from stdin, until
// it ends or ctx does.
func runOn(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, con console) int {
	root := newRootCommandOn(con)
	markUsageErrors(root, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err == nil {
		return code
	}
	// Errors can quote a URL, a header or a config line: they pass the
	// one masking rule like every other output.
	fmt.Fprintf(stderr, "meshops: %v\n", redact.Error(err))
	if h := hint(err); h != "" {
		fmt.Fprintln(stderr, h)
	}
	var ue *usageError
	if errors.As(err, &ue) && ue.command != "" {
		fmt.Fprintf(stderr, "See '%s --help' for usage.\n", ue.command)
	}
	return code
}
