package redact

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Marker replaces every masked value.
const Marker = "***masked***"

// keyClass is what a key says about the values under it.
type keyClass int

const (
	plainKey keyClass = iota
	// credentialKey: values that look like a random token are masked.
	credentialKey
	// secretKey: every value but booleans, numbers and harmless words is
	// masked.
	secretKey
)

// secretSuffixes end the normalized names (lower case, without - _ and
// spaces) of keys whose values are secrets: bearerToken, client_secret,
// private-key, x-api-key, SharedAccessKey, AZURE_STORAGE_CONNECTION_STRING.
// References that name a secret (secretName, credentialName, tokenFile)
// end otherwise and are left alone.
var secretSuffixes = []string{
	"token", "password", "passwd", "passphrase", "secret", "privatekey",
	"apikey", "accesskey", "accountkey", "connectionstring", "connstring",
}

// credentialSuffixes end the names of keys that often, not always, hold a
// credential: plain "key" is also the condition key of an
// AuthorizationPolicy rule (key: request.headers[x-id]), so only values
// that look like a random token are masked under them.
var credentialSuffixes = []string{
	"key", "auth", "authorization", "credential", "credentials", "signature",
	"sig", "cookie", "sas", "hmac",
}

// classify says what kind of key k is. Key files in a Secret or ConfigMap
// (tls.key, ca.pem) count as secret keys, as they always have. It runs for
// every key of every object in a plan, so it compares in place instead of
// building a normalized copy.
func classify(k string) keyClass {
	if n := len(k); n >= 4 && (strings.EqualFold(k[n-4:], ".key") || strings.EqualFold(k[n-4:], ".pem")) {
		return secretKey
	}
	for _, s := range secretSuffixes {
		if hasNormalizedSuffix(k, s) {
			return secretKey
		}
	}
	for _, s := range credentialSuffixes {
		if hasNormalizedSuffix(k, s) {
			return credentialKey
		}
	}
	return plainKey
}

// hasNormalizedSuffix reports whether k, in lower case and without - _
// and spaces, ends in suffix (lower case, without them).
func hasNormalizedSuffix(k, suffix string) bool {
	i := len(k) - 1
	for j := len(suffix) - 1; j >= 0; j-- {
		for i >= 0 && (k[i] == '-' || k[i] == '_' || k[i] == ' ') {
			i--
		}
		if i < 0 {
			return false
		}
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != suffix[j] {
			return false
		}
		i--
	}
	return true
}

// SecretKey reports whether every value under key k (but booleans, numbers
// and harmless words) is masked.
func SecretKey(k string) bool { return classify(k) == secretKey }

// harmlessWords are values that say something about a secret without being
// one (forwardOriginalToken: "true", password: none).
var harmlessWords = map[string]bool{
	"": true, "true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"null": true, "nil": true, "none": true, "~": true, "-": true, "empty": true, Marker: true,
}

// harmless reports whether s is a boolean, a number, null or a harmless word.
func harmless(s string) bool {
	t := strings.TrimSpace(s)
	if harmlessWords[strings.ToLower(t)] {
		return true
	}
	_, err := strconv.ParseFloat(t, 64)
	return err == nil
}

// prose reports whether a value found after "secretKey:" inside text is a
// plain lower-case word of up to eight letters: in an error message
// ("webhook secret: open …", "token: missing") that is prose, not a secret.
func prose(s string) bool {
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// TokenLike reports whether s looks like a random credential: one word of
// 16 or more base64/hex/URL-safe characters with letters and digits mixed
// and at least 3 bits of entropy per character. Dots and colons rule a
// word out, so hostnames, image names, SPIFFE principals and
// request.headers[...] conditions never qualify.
func TokenLike(s string) bool {
	if len(s) < 16 {
		return false
	}
	var (
		letters, digits bool
		counts          [128]int
	)
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letters = true
		case r >= '0' && r <= '9':
			digits = true
		case strings.ContainsRune("+/=_-~", r):
		default:
			return false
		}
		counts[r]++
	}
	if !letters || !digits {
		return false
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h >= 3
}

// String masks one string value found under key: whole when the key is a
// secret's (unless harmless) or a credential's and the value looks like a
// token, else the secrets that Text finds inside it.
func String(key, s string) string {
	switch classify(key) {
	case secretKey:
		if harmless(s) {
			return s
		}
		return Marker
	case credentialKey:
		if TokenLike(strings.TrimSpace(s)) {
			return Marker
		}
	}
	return Text(s)
}

// Tree masks, in place, the values of a tree decoded from YAML or JSON
// (maps, lists, strings, numbers, booleans) that sits under key ("" at the
// top), and returns it. In a name/value pair ({name: Authorization, value:
// …}, an environment variable, a header to set) the value counts as being
// under the name. Booleans and numbers are never masked.
func Tree(key string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		named := pairName(t)
		for k, child := range t {
			ck := k
			if k == "value" && named != "" {
				ck = named
			}
			t[k] = Tree(ck, child)
		}
		return t
	case map[string]string:
		for k, child := range t {
			t[k] = String(k, child)
		}
		return t
	case []any:
		for i := range t {
			t[i] = Tree(key, t[i])
		}
		return t
	case []string:
		for i := range t {
			t[i] = String(key, t[i])
		}
		return t
	case string:
		return String(key, t)
	default:
		return v
	}
}

// pairName is the name of a name/value pair: its name, key or header
// field when it also has a value field.
func pairName(m map[string]any) string {
	if _, ok := m["value"]; !ok {
		return ""
	}
	for _, f := range []string{"name", "key", "header"} {
		if s, ok := m[f].(string); ok {
			return s
		}
	}
	return ""
}

var (
	// pemPrivateKey is a PEM private key block; pemPrivateKeyCut its start
	// when the text was cut before its end, up to the end of the text or
	// of the JSON string it is in. Neither crosses a quote, so a block in
	// one JSON string never swallows the next.
	pemPrivateKey    = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[^"\\]|\\[^"])*?-----END [A-Z0-9 ]*PRIVATE KEY-----`)
	pemPrivateKeyCut = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[^"\\]|\\[^"])*`)
	// authScheme is an Authorization credential: group 2 is masked when it
	// has a digit or a symbol, so "Basic authentication" stays prose.
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})`)
	// urlUserinfo is scheme://user[:password]@; the password (group 3,
	// with its colon) is always masked, the user (group 2) when it looks
	// like a token.
	urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s:@\\"']*)(:[^/?#\s@\\"']*)?(@)`)
	// queryParam is a URL query parameter that carries a credential.
	queryParam = regexp.MustCompile(`(?i)([?&;])(access_token|id_token|refresh_token|private_token|token|sig|signature|code|key|api_key|apikey|password|passwd|pwd|secret|client_secret|x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature)(=)([^&#\s"'<>\\]*)`)
	// connString is a connection string's secret part (Azure storage and
	// Service Bus, SQL Server, SAS tokens in a header).
	connString = regexp.MustCompile(`(?i)(^|[;\s"'])(SharedAccessKey|SharedAccessSignature|AccountKey|AccessKey|Password|Pwd|ClientSecret|sig)(=)([^;\s"'\\]+)`)
	// jwt is a JSON Web Token (its header and payload are base64 JSON).
	jwt = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*`)
	// knownToken are credentials with a recognizable prefix: GitHub
	// (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), GitLab, Slack, AWS key ids.
	knownToken = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|glpat-[A-Za-z0-9_-]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b`)
	// tokenPrefix is a username that is a token however short the test
	// fixture (https://ghp_xxx@github.com/...).
	tokenPrefix = regexp.MustCompile(`^(?:gh[pousr]_|github_pat_|glpat-)`)
	// keyValue is "secretKey: value" or "secretKey=value" written inside
	// text: a mesh config's YAML, JSON in a string, an environment file;
	// not inside a URL (https://x-access-token:…@ is urlUserinfo's).
	keyValue = regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_./:@-])([A-Za-z0-9_.-]*(?:token|password|passwd|passphrase|secret|private[_-]?key|api[_-]?key|access[_-]?key|account[_-]?key|connection[_-]?string))(["']?[ \t]*[:=][ \t]*)("[^"\n\\,:{}\[\]]*"|'[^'"\n\\]*'|"[^"\s,;:}\]&'\\]+|[^\s,;}&"'\\]+)`)
)

// Text masks the secrets found inside free text: an error message, a log
// line, a string value whose key says nothing (a ConfigMap's mesh YAML,
// a header value list). It is safe on JSON text: no pattern takes a
// backslash or a quote into what it replaces, and the marker needs no
// escaping.
func Text(s string) string {
	if s == "" {
		return s
	}
	// Each pattern runs only when the literal it needs is there: most
	// values (names, principals, hosts) hold none, and a plan of 10,000
	// policies masks every string of every one. One word without = : @
	// can only be a token of a known shape.
	if !strings.ContainsAny(s, " \t\n=:@") {
		if strings.Contains(s, "eyJ") {
			s = jwt.ReplaceAllLiteralString(s, Marker)
		}
		if knownTokenLiteral(s) {
			s = knownToken.ReplaceAllLiteralString(s, Marker)
		}
		return s
	}
	lower := strings.ToLower(s)
	if strings.Contains(s, "PRIVATE KEY-----") {
		s = pemPrivateKey.ReplaceAllLiteralString(s, Marker)
		s = pemPrivateKeyCut.ReplaceAllLiteralString(s, Marker)
	}
	if strings.Contains(lower, "bearer") || strings.Contains(lower, "basic") {
		s = replaceGroups(s, authScheme, func(g []string) []string {
			if strings.ContainsAny(g[3], "0123456789._~+/=-") && g[3] != Marker {
				g[3] = Marker
			}
			return g
		})
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = replaceGroups(s, urlUserinfo, func(g []string) []string {
			if len(g[3]) > 1 {
				g[3] = ":" + Marker
			}
			if tokenPrefix.MatchString(g[2]) || TokenLike(g[2]) {
				g[2] = Marker
			}
			return g
		})
	}
	if strings.Contains(s, "=") {
		s = replaceGroups(s, queryParam, func(g []string) []string {
			if g[4] != "" {
				g[4] = Marker
			}
			return g
		})
		s = replaceGroups(s, connString, func(g []string) []string {
			g[4] = Marker
			return g
		})
	}
	if strings.Contains(s, "eyJ") {
		s = jwt.ReplaceAllLiteralString(s, Marker)
	}
	if knownTokenLiteral(s) {
		s = knownToken.ReplaceAllLiteralString(s, Marker)
	}
	if strings.ContainsAny(s, ":=") && containsAny(lower, "token", "passw", "passphrase", "secret", "key", "connection") {
		s = replaceGroups(s, keyValue, func(g []string) []string {
			// A quoted value keeps its quotes; one whose closing quote is
			// not found (it holds a comma, or the text is JSON) is masked
			// up to where it could end, never across a quote.
			v, open, end := g[4], "", ""
			if v[0] == '"' || v[0] == '\'' {
				open, v = v[:1], v[1:]
				if len(v) > 0 && v[len(v)-1] == open[0] {
					end, v = open, v[:len(v)-1]
				}
			}
			if !harmless(v) && !prose(v) {
				g[4] = open + Marker + end
			}
			return g
		})
	}
	return s
}

// knownTokenLiteral reports whether s holds a literal knownToken needs.
func knownTokenLiteral(s string) bool {
	return containsAny(s, "gh", "glpat-", "xox", "AKIA")
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// replaceGroups rewrites every match of re in s by the concatenation of
// its groups (1..n) after edit; group 0 is the whole match, for reading.
// Every group of re must be capturing and together cover the match.
func replaceGroups(s string, re *regexp.Regexp, edit func(g []string) []string) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		g := make([]string, len(m)/2)
		for i := range g {
			if m[2*i] >= 0 {
				g[i] = s[m[2*i]:m[2*i+1]]
			}
		}
		g = edit(g)
		b.WriteString(s[last:m[0]])
		for _, part := range g[1:] {
			b.WriteString(part)
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
