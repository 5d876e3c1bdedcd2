package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The CI workflows in deploy/ci call meshops commands and flags that
// exist: a renamed flag breaks the test, not a user's pipeline. (The
// workflows themselves run only on GitHub.)
func TestCIWorkflowsCallMeshopsCommandsAndFlagsThatExist(t *testing.T) {
	files, err := filepath.Glob("../../deploy/ci/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in deploy/ci: %v", err)
	}
	calls := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Run string `yaml:"run"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				for _, line := range strings.Split(strings.ReplaceAll(step.Run, "\\\n", " "), "\n") {
					fields := strings.Fields(line)
					if len(fields) == 0 || fields[0] != "meshops" {
						continue
					}
					calls++
					cmd, rest, err := newRootCommand().Find(fields[1:])
					if err != nil || !cmd.Runnable() {
						t.Errorf("%s: %q: no such meshops command (%v)", file, line, err)
						continue
					}
					for _, arg := range rest {
						name, isFlag := strings.CutPrefix(arg, "--")
						name, _, _ = strings.Cut(name, "=")
						if isFlag && cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
							t.Errorf("%s: meshops %s has no flag --%s", file, cmd.Name(), name)
						}
					}
				}
			}
		}
	}
	if calls == 0 {
		t.Error("the workflows call no meshops command: the test reads them wrong")
	}
}
