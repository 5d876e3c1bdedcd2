package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats, as kubectl's -o spells them.
const (
	formatText     = "text"
	formatJSON     = "json"
	formatYAML     = "yaml"
	formatMarkdown = "markdown"
)

// outputFlags are -o/--output and --output-file of a command whose output
// is data. The format is checked before anything else runs (PreRunE), so a
// typo never costs a trip to the cluster.
type outputFlags struct {
	format string
	file   string
	// formats this command renders, the first the default.
	formats []string
}

func (f *outputFlags) register(cmd *cobra.Command, formats ...string) {
	f.formats = formats
	cmd.Flags().StringVarP(&f.format, "output", "o", formats[0], "output format: "+strings.Join(formats, ", "))
	cmd.Flags().StringVar(&f.file, "output-file", "", "write the output to this file instead of stdout")
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if err := f.check(); err != nil {
			return &usageError{err: err, command: cmd.CommandPath()}
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

// keepFormatAlias keeps --format, the flag before -o, working for the
// scripts that use it; cobra says it is deprecated when it is used.
func (f *outputFlags) keepFormatAlias(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", f.formats[0], "output format (use -o/--output)")
	_ = cmd.Flags().MarkDeprecated("format", "use -o/--output")
}

func (f *outputFlags) check() error {
	if !slices.Contains(f.formats, f.format) {
		return fmt.Errorf("-o/--output %q: expected %s (to write to a file, use --output-file)", f.format, strings.Join(f.formats, ", "))
	}
	return nil
}

// write runs render on stdout or on --output-file, telling it whether
// it writes to a terminal; a file that could not be written in full is an
// error like any other.
func (f *outputFlags) write(cmd *cobra.Command, render func(w io.Writer, tty bool) error) (err error) {
	if f.file == "" {
		w := cmd.OutOrStdout()
		return render(w, osConsole().isTerminal(w))
	}
	file, err := os.Create(f.file)
	if err != nil {
		return fmt.Errorf("--output-file: %w", err)
	}
	defer func() {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--output-file: %w", cerr)
		}
	}()
	return render(file, false)
}

// writeData renders v as JSON or YAML (the same document: YAML is made
// from the JSON, so the field names agree).
func writeData(w io.Writer, format string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == formatYAML {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
	} else {
		data = append(data, '\n')
	}
	_, err = w.Write(data)
	return err
}

// asYAML writes as YAML what render writes as JSON, for the documents a
// package renders as JSON only (plans, findings): one document, two spellings.
func asYAML(w io.Writer, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	data, err := yaml.JSONToYAML(buf.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// colorOn says whether text output may use colour: on a terminal, unless
// --no-color or NO_COLOR (https://no-color.org: any non-empty value) says no.
func colorOn(tty, noColor bool, lookup func(string) (string, bool)) bool {
	if v, ok := lookup("NO_COLOR"); ok && v != "" {
		return false
	}
	return tty && !noColor
}
