package configs

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "mesh/fleet.yaml", Line: 12, Field: "spec.action", Message: `expected one of ALLOW, DENY, AUDIT, CUSTOM; got "MAYBE"`, Fix: "use ALLOW"},
			`mesh/fleet.yaml:12: spec.action: expected one of ALLOW, DENY, AUDIT, CUSTOM; got "MAYBE" (fix: use ALLOW)`},
		{Problem{File: "config/config.yaml", Message: "values file not found"}, "config/config.yaml: values file not found"},
		{Problem{Message: "bad\noption", Fix: "two\r\nlines"}, "bad option (fix: two lines)"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{{File: "b.yaml", Line: 2, Message: "second"}, {File: "a.yaml", Line: 9, Message: "first"}, {File: "b.yaml", Line: 1, Message: "also"}}
	ps.Sort()
	want := "3 problems:\na.yaml:9: first\nb.yaml:1: also\nb.yaml:2: second"
	if got := ps.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if Problems(nil).Err() != nil {
		t.Error("empty Problems must be a nil error")
	}
	var target Problems
	if err := ps.Err(); !errors.As(err, &target) || len(target) != 3 {
		t.Errorf("errors.As: %v", err)
	}
	if got := ps[:1].Error(); got != "a.yaml:9: first" {
		t.Errorf("single = %q", got)
	}
}

// A problem quotes little of a file: a value is clipped to 80 runes, and
// a message however built to 512 bytes, so a planted megabyte never reaches
// a log line whole.
func TestProblemsQuoteLittle(t *testing.T) {
	huge := strings.Repeat("é", 1<<20)
	if got := clip(huge); utf8.RuneCountInString(got) != clipLength+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("clip kept %d runes", utf8.RuneCountInString(got))
	}
	if got := clip("a\nb"); got != "a b" {
		t.Errorf("clip(a\\nb) = %q", got)
	}
	var ps Problems
	ps.add("mesh/x.yaml", 1, "metadata.name", "fix it", "%q is not a valid name", huge)
	p := Problem{File: "mesh/x.yaml", Field: huge, Message: huge, Fix: huge}
	for _, s := range []string{ps[0].Message, ps[0].String(), p.String()} {
		if len(s) > 3*maxMessage+64 || !utf8.ValidString(s) {
			t.Errorf("%d bytes, valid UTF-8 %v", len(s), utf8.ValidString(s))
		}
	}
}
