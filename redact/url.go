package redact

import (
	"net/url"
	"strings"
)

// URL returns a URL fit to store and print: without a password, without a
// username that is a token (https://ghp_…@host), and with the values of
// credential query parameters (?access_token=…, ?sig=…) masked. Anything
// that does not parse as a URL with a scheme and host (scp-like
// git@host:org/repo) goes through Text.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Text(raw)
	}
	// Userinfo is written by hand: url.User would escape the marker.
	userinfo := ""
	if u.User != nil {
		name := u.User.Username()
		if tokenPrefix.MatchString(name) || TokenLike(name) {
			name = Marker
		}
		userinfo = url.PathEscape(name)
		if name == Marker {
			userinfo = Marker
		}
		if _, ok := u.User.Password(); ok {
			userinfo += ":" + Marker
		}
		userinfo += "@"
		u.User = nil
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			name, _, found := strings.Cut(p, "=")
			if found && queryParam.MatchString("?"+name+"=x") {
				parts[i] = name + "=" + Marker
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	// Text catches what the fields above cannot (a token in the path).
	out := u.String()
	if userinfo != "" {
		out = u.Scheme + "://" + userinfo + out[len(u.Scheme+"://"):]
	}
	return Text(out)
}
