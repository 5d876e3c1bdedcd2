// Command meshops keeps an Istio service mesh exactly as a config git
// repository declares it. This package only wires flags to the engines in
// configs, plan, apply and sync; it holds no decisions of its own.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
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
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith runs the command line with its output and errors going to the
// given writers, and returns the exit code.
func runWith(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "meshops: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "meshops: %v\n", err)
	return 1
}
