package mesh

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultRevisionPattern is how the AKS Istio add-on names its control-plane
// revisions: asm-1-28, asm-1-29, …
const DefaultRevisionPattern = "asm-<major>-<minor>"

// UpstreamRevisionPattern is the style upstream Istio installs commonly use
// (istioctl --revision 1-29-0).
const UpstreamRevisionPattern = "<major>-<minor>-<patch>"

// Placeholders a revision pattern may use. <major> and <minor> are required;
// <patch> is optional.
const (
	placeholderMajor = "<major>"
	placeholderMinor = "<minor>"
	placeholderPatch = "<patch>"
)

// Revision is one Istio control-plane revision: its name as it appears in
// istio.io/rev labels and istiod-<rev> Deployments, and the version numbers
// the name encodes. Revisions order by version, not by name, because
// "asm-1-9" < "asm-1-29" numerically but not lexically.
type Revision struct {
	Name  string
	Major int
	Minor int
	// Patch is -1 when the pattern has no <patch>, so that a pattern without
	// patch numbers never compares as older than one with patch 0.
	Patch int
}

// String returns the revision name.
func (r Revision) String() string { return r.Name }

// IsZero reports whether r is the zero Revision (no name).
func (r Revision) IsZero() bool { return r.Name == "" }

// Compare orders revisions by major, minor and patch number, then by name so
// that the order is total and sorting is deterministic.
func Compare(a, b Revision) int {
	if c := cmpInt(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmpInt(a.Minor, b.Minor); c != 0 {
		return c
	}
	if c := cmpInt(a.Patch, b.Patch); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Less reports whether a is an older revision than b.
func (r Revision) Less(b Revision) bool { return Compare(r, b) < 0 }

// SortRevisions sorts revs in place, oldest first.
func SortRevisions(revs []Revision) { slices.SortFunc(revs, Compare) }

// RevisionPattern parses revision names of one naming scheme, such as
// "asm-<major>-<minor>". The zero value is not usable; build one with
// ParseRevisionPattern or DefaultPattern.
type RevisionPattern struct {
	raw      string
	re       *regexp.Regexp
	hasPatch bool
}

// DefaultPattern returns the pattern for DefaultRevisionPattern.
func DefaultPattern() RevisionPattern {
	p, err := ParseRevisionPattern(DefaultRevisionPattern)
	if err != nil {
		// The constant is fixed at compile time; failing here is a programming error.
		panic(err)
	}
	return p
}

// maxDigits bounds each number so that strconv.Atoi never overflows and a
// hostile name cannot produce surprising comparisons.
const maxDigits = 9

// ParseRevisionPattern compiles a pattern made of literal text and the
// placeholders <major>, <minor> and optionally <patch>, each exactly once.
// The literal text must keep revision names valid as Kubernetes label values
// and DNS-1123 labels (lowercase letters, digits, '-'), since a revision name
// ends up in istiod-<rev> and istio.io/rev=<rev>.
func ParseRevisionPattern(pattern string) (RevisionPattern, error) {
	if pattern == "" {
		return RevisionPattern{}, fmt.Errorf("revision pattern is empty: use e.g. %q", DefaultRevisionPattern)
	}
	var (
		b    strings.Builder
		seen = map[string]bool{}
		rest = pattern
	)
	b.WriteString("^")
	for rest != "" {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		rest = rest[i:]
		j := strings.IndexByte(rest, '>')
		if j < 0 {
			return RevisionPattern{}, fmt.Errorf("revision pattern %q: unclosed %q", pattern, rest)
		}
		ph := rest[:j+1]
		switch ph {
		case placeholderMajor, placeholderMinor, placeholderPatch:
		default:
			return RevisionPattern{}, fmt.Errorf("revision pattern %q: unknown placeholder %s: expected <major>, <minor> or <patch>", pattern, ph)
		}
		if seen[ph] {
			return RevisionPattern{}, fmt.Errorf("revision pattern %q: %s appears twice", pattern, ph)
		}
		seen[ph] = true
		name := strings.Trim(ph, "<>")
		fmt.Fprintf(&b, "(?P<%s>[0-9]{1,%d})", name, maxDigits)
		rest = rest[j+1:]
	}
	b.WriteString("$")
	if !seen[placeholderMajor] || !seen[placeholderMinor] {
		return RevisionPattern{}, fmt.Errorf("revision pattern %q: needs both <major> and <minor>", pattern)
	}
	// Two adjacent placeholders would make "1129" ambiguous (1-129 or 11-29).
	for _, a := range []string{placeholderMajor, placeholderMinor, placeholderPatch} {
		for _, c := range []string{placeholderMajor, placeholderMinor, placeholderPatch} {
			if strings.Contains(pattern, a+c) {
				return RevisionPattern{}, fmt.Errorf("revision pattern %q: %s and %s need a separator between them", pattern, a, c)
			}
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return RevisionPattern{}, fmt.Errorf("revision pattern %q: %w", pattern, err)
	}
	p := RevisionPattern{raw: pattern, re: re, hasPatch: seen[placeholderPatch]}
	sample := p.format(1, 29, 0)
	if errs := validation.IsDNS1123Label(sample); len(errs) > 0 {
		return RevisionPattern{}, fmt.Errorf("revision pattern %q gives names like %q that are not valid DNS-1123 labels: %s", pattern, sample, strings.Join(errs, "; "))
	}
	return p, nil
}

// String returns the pattern as written.
func (p RevisionPattern) String() string { return p.raw }

// format fills the placeholders; used to check a pattern and in examples.
func (p RevisionPattern) format(major, minor, patch int) string {
	return strings.NewReplacer(
		placeholderMajor, strconv.Itoa(major),
		placeholderMinor, strconv.Itoa(minor),
		placeholderPatch, strconv.Itoa(patch),
	).Replace(p.raw)
}

// Example returns a revision name in this pattern (for version 1.29.0), for
// use in error messages.
func (p RevisionPattern) Example() string { return p.format(1, 29, 0) }

// Parse reads a revision name. It fails when the name does not follow the
// pattern or the pattern is the zero value.
func (p RevisionPattern) Parse(name string) (Revision, error) {
	if p.re == nil {
		return Revision{}, fmt.Errorf("revision %q: no revision pattern configured", name)
	}
	m := p.re.FindStringSubmatch(name)
	if m == nil {
		return Revision{}, fmt.Errorf("revision %q does not match the pattern %q (e.g. %q)", name, p.raw, p.Example())
	}
	r := Revision{Name: name, Patch: -1}
	for i, group := range p.re.SubexpNames() {
		if group == "" {
			continue
		}
		// The regexp allows at most maxDigits digits, so Atoi cannot fail.
		n, _ := strconv.Atoi(m[i])
		switch group {
		case "major":
			r.Major = n
		case "minor":
			r.Minor = n
		case "patch":
			r.Patch = n
		}
	}
	return r, nil
}

// Matches reports whether name follows the pattern.
func (p RevisionPattern) Matches(name string) bool {
	return p.re != nil && p.re.MatchString(name)
}
