package configs

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Istio compares source.principals with the SPIFFE identity of the peer
// without its scheme: <trust-domain>/ns/<namespace>/sa/<service-account>.
// It accepts one "*" as the whole value, as a prefix or as a suffix; any
// other string is accepted by Istio too but can never match a workload, so
// it is almost certainly a mistake (a spiffe:// prefix, a missing trust
// domain). These checks accept exactly the forms that can match.

// principalSegments is the shape of a principal, segment by segment.
const principalSegments = 5

// checkPrincipal returns why p is not a usable principal, or "" when it is.
func checkPrincipal(p string) string {
	switch {
	case p == "":
		return "an empty principal matches nothing"
	case p == "*":
		return ""
	case strings.Contains(p, "://"):
		return "Istio principals are written without the spiffe:// scheme"
	case badWildcard(p):
		return "Istio accepts \"*\" only as the whole value, as a prefix or as a suffix"
	}
	switch {
	case strings.HasSuffix(p, "*"):
		segs := strings.Split(strings.TrimSuffix(p, "*"), "/")
		if len(segs) > principalSegments {
			return "too many segments"
		}
		for i, s := range segs {
			if why := checkSegment(i, s, i == len(segs)-1, false); why != "" {
				return why
			}
		}
		return ""
	case strings.HasPrefix(p, "*"):
		segs := strings.Split(strings.TrimPrefix(p, "*"), "/")
		if len(segs) > principalSegments {
			return "too many segments"
		}
		offset := principalSegments - len(segs)
		for i, s := range segs {
			if why := checkSegment(offset+i, s, i == 0, true); why != "" {
				return why
			}
		}
		return ""
	}
	segs := strings.Split(p, "/")
	if len(segs) != principalSegments {
		if len(segs) == principalSegments-1 && segs[0] == "ns" {
			return "the trust domain is missing (e.g. cluster.local/" + p + ")"
		}
		return "expected 5 segments, found " + itoa(len(segs))
	}
	for i, s := range segs {
		if why := checkSegment(i, s, false, false); why != "" {
			return why
		}
	}
	return ""
}

// principalLiterals are the fixed segments of a principal, and
// segmentNames what the others hold, by index.
var (
	principalLiterals = [principalSegments]string{1: "ns", 3: "sa"}
	segmentNames      = [principalSegments]string{0: "trust domain", 2: "namespace", 4: "service account"}
)

// checkSegment checks segment i of a principal. A partial segment is the one
// cut by a wildcard: only its characters can be checked (a prefix of "ns",
// or a suffix of it when the wildcard is in front).
func checkSegment(i int, s string, partial, wildcardInFront bool) string {
	if want := principalLiterals[i]; want != "" {
		if partial {
			if (wildcardInFront && strings.HasSuffix(want, s)) || (!wildcardInFront && strings.HasPrefix(want, s)) {
				return ""
			}
		} else if s == want {
			return ""
		}
		return "expected \"" + want + "\" as segment " + itoa(i+1) + ", got \"" + s + "\""
	}
	what := segmentNames[i]
	if s == "" {
		if partial {
			return ""
		}
		return "the " + what + " is empty"
	}
	if partial {
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || (i == 0 && (r == '_' || r >= 'A' && r <= 'Z'))) {
				return "the " + what + " has the character " + string(r)
			}
		}
		return ""
	}
	var errs []string
	switch i {
	case 0:
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
				return "the trust domain " + s + " has the character " + string(r)
			}
		}
	case 2:
		errs = validation.IsDNS1123Label(s)
	case 4:
		errs = validation.IsDNS1123Subdomain(s)
	}
	if len(errs) > 0 {
		return "the " + what + " " + s + " is not valid: " + errs[0]
	}
	return ""
}

// checkNamespaceRef returns why ns is not a usable source.namespaces entry,
// or "" when it is. Istio accepts "*" and one "*" as prefix or suffix.
func checkNamespaceRef(ns string) string {
	switch {
	case ns == "":
		return "an empty namespace matches nothing"
	case ns == "*":
		return ""
	case badWildcard(ns):
		return "Istio accepts \"*\" only as the whole value, as a prefix or as a suffix"
	case strings.HasPrefix(ns, "*") || strings.HasSuffix(ns, "*"):
		for _, r := range strings.Trim(ns, "*") {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "a namespace cannot hold the character " + string(r)
			}
		}
		return ""
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "not a valid namespace name: " + errs[0]
	}
	return ""
}

// badWildcard reports a "*" anywhere but first or last, or more than one.
func badWildcard(s string) bool {
	return strings.Count(s, "*") > 1 || (len(s) > 2 && strings.Contains(s[1:len(s)-1], "*"))
}

func itoa(i int) string { return strconv.Itoa(i) }
