package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, the same for every command that uses them. docs/cli.md has
// the table; TestEveryCommandDocumentsItsExitCodesAsDocsCLISays keeps the
// two equal.
const (
	exitOK      = 0
	exitFailed  = 1
	exitPending = 2
	exitBlocked = 3
)

// exitCode is one code a command ends with and what it means there.
type exitCode struct {
	code    int
	meaning string
}

// exitCodesHeader starts the help section that lists a command's codes.
const exitCodesHeader = "Exit codes:"

// documentExitCodes appends the command's exit codes to its help, one a
// line, so --help, docs/cli.md and the code say the same.
func documentExitCodes(cmd *cobra.Command, codes ...exitCode) *cobra.Command {
	var b strings.Builder
	if cmd.Long == "" {
		b.WriteString(cmd.Short + ".")
	} else {
		b.WriteString(cmd.Long)
	}
	b.WriteString("\n\n" + exitCodesHeader + "\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %d  %s\n", c.code, c.meaning)
	}
	cmd.Long = strings.TrimSuffix(b.String(), "\n")
	return cmd
}

// usageError is a wrong command line: the message ends with where to read
// how to call the command, as kubectl's do.
type usageError struct {
	err error
	// command is the full command path, e.g. "meshops plan"; set when the
	// error leaves the command.
	command string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// markUsageErrors makes every flag and argument error of cmd and its
// subcommands a usageError naming the command, and sends what the flag
// parser prints (a deprecated flag's notice) to stderr: cobra would print
// it to stdout, into the JSON a script reads.
func markUsageErrors(cmd *cobra.Command, stderr io.Writer) {
	cmd.Flags().SetOutput(stderr)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: err, command: c.CommandPath()}
	})
	for _, c := range cmd.Commands() {
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return &usageError{err: err, command: c.CommandPath()}
				}
				return nil
			}
		}
		markUsageErrors(c, stderr)
	}
}
