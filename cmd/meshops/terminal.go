package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// console is what the commands know of where they run: whether a stream
// is a terminal and how wide, and the stderr that logs go to. The process's
// own (osConsole) unless a test forces a terminal.
type console struct {
	// isTerminal says whether stream (stdin, stdout, stderr) is one.
	isTerminal func(stream any) bool
	// width is a terminal's width in columns; 0 when unknown.
	width func(stream any) int
	// stderr receives the structured logs.
	stderr io.Writer
}

func osConsole() console {
	fd := func(s any) (int, bool) {
		f, ok := s.(*os.File)
		if !ok {
			return 0, false
		}
		return int(f.Fd()), true
	}
	return console{
		isTerminal: func(s any) bool {
			n, ok := fd(s)
			return ok && term.IsTerminal(n)
		},
		width: func(s any) int {
			n, ok := fd(s)
			if !ok {
				return 0
			}
			w, _, err := term.GetSize(n)
			if err != nil {
				return 0
			}
			return w
		},
		stderr: os.Stderr,
	}
}

// errNoAnswer is a prompt's input closed before a line was read.
var errNoAnswer = errors.New("no answer: the input closed")

// askToApply asks, terraform's way, whether to apply the plan printed above
// to the cluster named: only "yes" approves.
func askToApply(in io.Reader, out io.Writer, cluster string) (bool, error) {
	fmt.Fprintf(out, "Do you want meshops to apply this plan to %s?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", cluster)
	line, err := bufio.NewReader(in).ReadString('\n')
	fmt.Fprintln(out)
	if err != nil && (err != io.EOF || line == "") {
		if err == io.EOF {
			return false, errNoAnswer
		}
		return false, err
	}
	return strings.TrimSpace(line) == "yes", nil
}

// clusterName names the cluster a command talks to, for the question
// before changing it: the kubeconfig context and its server.
func (g *globalFlags) clusterName() string {
	ctxName := ""
	if g.kube.Context != nil {
		ctxName = *g.kube.Context
	}
	raw, err := g.kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return "the cluster of the current kubeconfig"
	}
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	if ctxName == "" {
		return "the in-cluster API server"
	}
	name := fmt.Sprintf("kubeconfig context %q", ctxName)
	if c, ok := raw.Contexts[ctxName]; ok {
		if cl, ok := raw.Clusters[c.Cluster]; ok && cl.Server != "" {
			name += " (" + cl.Server + ")"
		}
	}
	return name
}
