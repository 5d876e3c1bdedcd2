package mesh

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRevision(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		want    Revision
		wantErr string
	}{
		{pattern: DefaultRevisionPattern, name: "asm-1-29", want: Revision{Name: "asm-1-29", Major: 1, Minor: 29, Patch: -1}},
		{pattern: DefaultRevisionPattern, name: "asm-1-9", want: Revision{Name: "asm-1-9", Major: 1, Minor: 9, Patch: -1}},
		{pattern: DefaultRevisionPattern, name: "asm-2-0", want: Revision{Name: "asm-2-0", Major: 2, Minor: 0, Patch: -1}},
		{pattern: UpstreamRevisionPattern, name: "1-29-0", want: Revision{Name: "1-29-0", Major: 1, Minor: 29, Patch: 0}},
		{pattern: UpstreamRevisionPattern, name: "1-29-12", want: Revision{Name: "1-29-12", Major: 1, Minor: 29, Patch: 12}},
		{pattern: "istio-<minor>-x<major>", name: "istio-29-x1", want: Revision{Name: "istio-29-x1", Major: 1, Minor: 29, Patch: -1}},
		{pattern: DefaultRevisionPattern, name: "1-29-0", wantErr: `revision "1-29-0" does not match the pattern "asm-<major>-<minor>" (e.g. "asm-1-29")`},
		{pattern: DefaultRevisionPattern, name: "asm-1-29-0", wantErr: "does not match"},
		{pattern: DefaultRevisionPattern, name: "asm-1.29", wantErr: "does not match"},
		{pattern: DefaultRevisionPattern, name: "asm-1-", wantErr: "does not match"},
		{pattern: DefaultRevisionPattern, name: "ASM-1-29", wantErr: "does not match"},
		{pattern: DefaultRevisionPattern, name: "", wantErr: "does not match"},
		{pattern: DefaultRevisionPattern, name: "asm-1-9999999999", wantErr: "does not match"},
		{pattern: UpstreamRevisionPattern, name: "asm-1-29", wantErr: "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.name, func(t *testing.T) {
			p, err := ParseRevisionPattern(tt.pattern)
			if err != nil {
				t.Fatalf("ParseRevisionPattern(%q): %v", tt.pattern, err)
			}
			got, err := p.Parse(tt.name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want containing %q", tt.name, err, tt.wantErr)
				}
				if p.Matches(tt.name) {
					t.Errorf("Matches(%q) = true, want false", tt.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.name, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.name, got, tt.want)
			}
			if !p.Matches(tt.name) {
				t.Errorf("Matches(%q) = false, want true", tt.name)
			}
		})
	}
}

func TestParseRevisionPatternErrors(t *testing.T) {
	tests := []struct {
		pattern string
		wantErr string
	}{
		{"", "empty"},
		{"asm-<major>", "needs both <major> and <minor>"},
		{"asm-<minor>", "needs both <major> and <minor>"},
		{"asm-<major>-<minor>-<major>", "<major> appears twice"},
		{"asm-<major>-<mino", "unclosed"},
		{"asm-<major>-<build>", "unknown placeholder <build>"},
		{"asm-<major><minor>", "need a separator"},
		{"ASM-<major>-<minor>", "not valid DNS-1123 labels"},
		{"asm.<major>.<minor>", "not valid DNS-1123 labels"},
		{"-<major>-<minor>", "not valid DNS-1123 labels"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := ParseRevisionPattern(tt.pattern)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseRevisionPattern(%q) error = %v, want containing %q", tt.pattern, err, tt.wantErr)
			}
		})
	}
}

func TestZeroPatternParse(t *testing.T) {
	var p RevisionPattern
	if _, err := p.Parse("asm-1-29"); err == nil {
		t.Fatal("zero pattern parsed a name")
	}
	if p.Matches("asm-1-29") {
		t.Fatal("zero pattern matched a name")
	}
}

func TestCompareRevisions(t *testing.T) {
	def := DefaultPattern()
	up, err := ParseRevisionPattern(UpstreamRevisionPattern)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    RevisionPattern
		a, b string
		want int
	}{
		{def, "asm-1-9", "asm-1-29", -1},
		{def, "asm-1-29", "asm-1-9", 1},
		{def, "asm-1-29", "asm-1-29", 0},
		{def, "asm-1-29", "asm-2-0", -1},
		{def, "asm-10-0", "asm-9-99", 1},
		{def, "asm-1-09", "asm-1-9", -1}, // same version: the name breaks the tie
		{up, "1-29-0", "1-29-1", -1},
		{up, "1-29-10", "1-29-9", 1},
		{up, "1-9-10", "1-29-0", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			a, err := tt.p.Parse(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tt.p.Parse(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := Compare(a, b); got != tt.want {
				t.Errorf("Compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := a.Less(b); got != (tt.want < 0) {
				t.Errorf("%s.Less(%s) = %v", tt.a, tt.b, got)
			}
		})
	}
}

func TestSortRevisions(t *testing.T) {
	p := DefaultPattern()
	var revs []Revision
	for _, n := range []string{"asm-1-29", "asm-2-1", "asm-1-9", "asm-1-28", "asm-1-10"} {
		r, err := p.Parse(n)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, r)
	}
	SortRevisions(revs)
	var got []string
	for _, r := range revs {
		got = append(got, r.String())
	}
	want := []string{"asm-1-9", "asm-1-10", "asm-1-28", "asm-1-29", "asm-2-1"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
}

func TestPatternExampleAndString(t *testing.T) {
	p := DefaultPattern()
	if p.String() != DefaultRevisionPattern || p.Example() != "asm-1-29" {
		t.Errorf("String() = %q, Example() = %q", p.String(), p.Example())
	}
	if (Revision{}).IsZero() != true || (Revision{Name: "x"}).IsZero() {
		t.Error("IsZero wrong")
	}
}
