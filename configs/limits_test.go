package configs

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestSecurityDocListsLimits keeps the table of limits in docs/security.md
// and DefaultLimits together.
func TestSecurityDocListsLimits(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	l := DefaultLimits()
	for name, v := range map[string]int64{
		"FileBytes": l.FileBytes, "TotalBytes": l.TotalBytes, "Entries": int64(l.Entries),
		"DocumentBytes": int64(l.DocumentBytes), "Documents": int64(l.Documents), "Objects": int64(l.Objects),
		"Values": int64(l.Values), "AliasValues": int64(l.AliasValues), "TemplateBytes": l.TemplateBytes,
		"TemplateSteps": int64(l.TemplateSteps),
	} {
		if row := "| `" + name + "` | `" + strconv.FormatInt(v, 10) + "`"; !strings.Contains(string(doc), row) {
			t.Errorf("docs/security.md has no row %q", row)
		}
	}
}

// A zero Limits is the defaults, so Options{RepoPath: dir} is bounded too.
func TestZeroLimitsAreTheDefaults(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits() {
		t.Errorf("zero limits = %+v, want the defaults", got)
	}
	if got := (Limits{Objects: 7}).withDefaults(); got.Objects != 7 || got.Values != DefaultValues {
		t.Errorf("limits = %+v", got)
	}
}
