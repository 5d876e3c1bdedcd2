package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/test/golden"
)

// commands are every runnable meshops command, by path ("plan",
// "comment github").
func commands(t *testing.T) []*cobra.Command {
	t.Helper()
	var all []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.HasParent() && c.Name() != "help" && c.Name() != "completion" {
			all = append(all, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand())
	return all
}

func subPath(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), "meshops ")
}

// Every command's --help is reviewed as a file: a flag renamed, a default
// changed or an exit code added shows in the diff.
func TestHelpOfEveryCommandMatchesItsGoldenFile(t *testing.T) {
	// Defaults read from the environment would make the files differ in CI.
	t.Setenv("GITHUB_REPOSITORY", "")
	t.Setenv("GITHUB_API_URL", "")
	for _, c := range commands(t) {
		path := subPath(c)
		t.Run(path, func(t *testing.T) {
			code, out, errs := capture(append(strings.Fields(path), "--help"))
			if code != exitOK || errs != "" {
				t.Fatalf("--help: exit %d, stderr %q", code, errs)
			}
			golden.Check(t, filepath.Join("help", strings.ReplaceAll(path, " ", "-")+".txt"), []byte(out))
		})
	}
}

var (
	// cliTableRow is a row of docs/cli.md's exit-code table:
	// | `meshops plan` | 0 nothing to do · 2 changes pending · ... |
	cliTableRow = regexp.MustCompile("^\\| `meshops ([a-z ]+)` \\| (.*) \\|$")
	// helpCode is a line of a command's "Exit codes:" help section.
	helpCode = regexp.MustCompile(`^  (\d+)  (.*)$`)
)

// docs/cli.md's table and every command's --help say the same exit codes,
// and every command is in the table.
func TestEveryCommandDocumentsItsExitCodesAsDocsCLISays(t *testing.T) {
	data, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := cliTableRow.FindStringSubmatch(line); m != nil {
			documented[m[1]] = strings.Split(m[2], " · ")
		}
	}
	for _, c := range commands(t) {
		path := subPath(c)
		_, out, _ := capture(append(strings.Fields(path), "--help"))
		_, section, ok := strings.Cut(out, "\n"+exitCodesHeader+"\n")
		if !ok {
			t.Errorf("meshops %s --help has no %q section", path, exitCodesHeader)
			continue
		}
		var inHelp []string
		for _, line := range strings.Split(section, "\n") {
			m := helpCode.FindStringSubmatch(line)
			if m == nil {
				break
			}
			inHelp = append(inHelp, m[1]+" "+m[2])
		}
		want, ok := documented[path]
		if !ok {
			t.Errorf("docs/cli.md has no row for meshops %s; its --help says: %s", path, strings.Join(inHelp, " · "))
			continue
		}
		if !slices.Equal(inHelp, want) {
			t.Errorf("meshops %s exit codes:\n--help:      %s\ndocs/cli.md: %s", path, strings.Join(inHelp, " · "), strings.Join(want, " · "))
		}
		delete(documented, path)
	}
	for path := range documented {
		t.Errorf("docs/cli.md documents meshops %s, which does not exist", path)
	}
}

// parseData checks that out is one JSON or YAML document and returns it.
func parseData(t *testing.T, format, out string) map[string]any {
	t.Helper()
	var doc map[string]any
	var err error
	if format == formatJSON {
		err = json.Unmarshal([]byte(out), &doc)
	} else {
		err = yaml.Unmarshal([]byte(out), &doc)
	}
	if err != nil || len(doc) == 0 {
		t.Fatalf("-o %s is not a %s document (%v):\n%s", format, format, err, out)
	}
	return doc
}

func TestVersionAndValidatePrintJSONAndYAMLThatParse(t *testing.T) {
	for _, format := range []string{formatJSON, formatYAML} {
		t.Run("version -o "+format, func(t *testing.T) {
			code, out, errs := capture([]string{"version", "-o", format})
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if doc := parseData(t, format, out); doc["version"] != version {
				t.Errorf("version %v, want %s", doc["version"], version)
			}
		})
		t.Run("validate -o "+format, func(t *testing.T) {
			code, out, errs := capture([]string{"validate", exampleRepo, "-o", format})
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			doc := parseData(t, format, out)
			if istio, _ := doc["istio"].(map[string]any); istio["tag"] != "prod-stable" {
				t.Errorf("istio.tag %v, want prod-stable", istio["tag"])
			}
		})
	}
}

// kubectl takes `kubectl apply -f DIR`; meshops validate DIR reads DIR as
// --repo-path does, and refuses two repos.
func TestValidateTakesTheRepoAsAnArgument(t *testing.T) {
	if code, _, errs := capture([]string{"validate", exampleRepo}); code != exitOK || !strings.Contains(errs, "valid") {
		t.Fatalf("validate DIR: exit %d: %s", code, errs)
	}
	code, _, errs := capture([]string{"validate", exampleRepo, "--repo-path", exampleRepo})
	if code != exitFailed || !strings.Contains(errs, "given twice") {
		t.Errorf("validate DIR --repo-path DIR: exit %d: %s", code, errs)
	}
}

// A wrong format is a usage error found before anything else: no
// kubeconfig is read, no cluster contacted, no file written, and the
// message says where the help is.
func TestAWrongOutputFormatFailsBeforeTheClusterIsContacted(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"plan", "-o", "plan.json"},
		{"plan", "--format", "yml"},
		{"status", "-o", "table"},
		{"version", "-o", "markdown"},
		{"validate", exampleRepo, "-o", "text"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			// A kubeconfig nothing listens behind: contacting it would say so.
			args = append(args, "--kubeconfig", unreachableKubeconfig(t))
			if args[0] == "plan" {
				args = append(args, "--repo-path", "/nonexistent")
			}
			code, out, errs := capture(args)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			if !strings.Contains(errs, "-o/--output") || !strings.Contains(errs, fmt.Sprintf("See 'meshops %s --help' for usage.", args[0])) {
				t.Errorf("stderr does not name the flag and the help:\n%s", errs)
			}
			if strings.Contains(errs, "refused") || strings.Contains(errs, "nonexistent") || out != "" {
				t.Errorf("something ran before the format was checked:\n%s%s", out, errs)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files written: %v", entries)
			}
		})
	}
}

func TestUsageErrorsEndWithTheCommandsHelp(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"plan", "--no-such-flag"}},
		{[]string{"plan", "extra"}},
		{[]string{"comment", "github", "--pr", "x"}},
	} {
		code, _, errs := capture(tc.args)
		help := "See 'meshops " + strings.Join(tc.args[:len(tc.args)-1], " ")
		if tc.args[0] == "comment" {
			help = "See 'meshops comment github"
		}
		if code != exitFailed || !strings.HasSuffix(errs, help+" --help' for usage.\n") {
			t.Errorf("%v: exit %d, stderr:\n%s", tc.args, code, errs)
		}
	}
}

func TestNoKubeconfigSaysWhereOneIsLookedFor(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	code, _, errs := capture([]string{"status"})
	if code != exitFailed || !strings.Contains(errs, "no kubeconfig found: pass --kubeconfig, set $KUBECONFIG") {
		t.Errorf("exit %d, stderr:\n%s", code, errs)
	}
	if strings.Contains(errs, "KUBERNETES_MASTER") || strings.Contains(errs, "localhost:8080") {
		t.Errorf("client-go's fallback leaks through:\n%s", errs)
	}
}

// Colour only on a terminal, and never when --no-color or a non-empty
// NO_COLOR (no-color.org) says no.
func TestColorOnlyOnATerminalWithoutNoColor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tty      bool
		noColor  bool
		env      map[string]string
		colorful bool
	}{
		{"terminal", true, false, nil, true},
		{"pipe", false, false, nil, false},
		{"terminal, --no-color", true, true, nil, false},
		{"terminal, NO_COLOR=1", true, false, map[string]string{"NO_COLOR": "1"}, false},
		{"terminal, NO_COLOR empty counts as unset", true, false, map[string]string{"NO_COLOR": ""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			if got := colorOn(tc.tty, tc.noColor, lookup); got != tc.colorful {
				t.Errorf("colorOn = %v, want %v", got, tc.colorful)
			}
		})
	}
}

func TestHintsExplainTheCommonFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"none", errors.New("something else"), ""},
		{"refused", fmt.Errorf("get: %w", &os.SyscallError{Syscall: "connect", Err: errRefused}), "connection refused"},
		{"forbidden", forbidden(), "forbidden: the kubeconfig's user lacks an RBAC permission on configmaps "},
		{"deadline", fmt.Errorf("load: %w", contextDeadline()), "timeout: the API server did not answer within --request-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hint(tc.err); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
				t.Errorf("hint = %q, want it to start with %q", got, tc.want)
			}
		})
	}
}

func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	return writeKubeconfig(t, "https://127.0.0.1:1")
}

func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: `+strconv.Quote(server)+`, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var errRefused = syscall.ECONNREFUSED

func forbidden() error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "meshops-state",
		errors.New(`User "ci" cannot get resource "configmaps" in API group "" in the namespace "meshops-system"`))
}

func contextDeadline() error { return context.DeadlineExceeded }
