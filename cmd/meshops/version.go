package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time by `make build` (-X main.version=...).
var version = "dev"

// versionInfo is `meshops version -o json|yaml`.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
}

func newVersionCommand() *cobra.Command {
	var of outputFlags
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the meshops version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Version: version, GoVersion: "unknown"}
			if bi, ok := debug.ReadBuildInfo(); ok {
				v.GoVersion = bi.GoVersion
			}
			err := of.write(cmd, func(w io.Writer, _ bool) error {
				if of.format == formatText {
					_, err := fmt.Fprintf(w, "meshops %s (%s)\n", v.Version, v.GoVersion)
					return err
				}
				return writeData(w, of.format, v)
			})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	of.register(cmd, formatText, formatJSON, formatYAML)
	return documentExitCodes(cmd,
		exitCode{exitOK, "printed"},
		exitCode{exitFailed, "the output could not be written"},
	)
}
