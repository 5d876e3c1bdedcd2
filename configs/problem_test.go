package configs

import (
	"errors"
	"testing"
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
