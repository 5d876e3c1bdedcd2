package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// generic judges requests to the generic endpoint: any host that can send
// a bearer token.
type generic struct{ opts Options }

// Its body is never read: the token is in a header and every
// authenticated request triggers, so a caller without the token costs no
// more than its headers.
func (g generic) handle(_ http.ResponseWriter, r *http.Request) outcome {
	if !validToken(g.opts.GenericToken, r.Header.Get("Authorization")) {
		return outcome{http.StatusUnauthorized, ResultUnauthorized, "Authorization: Bearer token missing or wrong", nil}
	}
	g.opts.Trigger("generic webhook")
	return outcome{http.StatusAccepted, ResultTriggered, "triggers a reconcile", nil}
}

// validToken checks an Authorization header against the token in constant
// time; hashing both first keeps the token's length from showing in the
// time too.
func validToken(token []byte, header string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256(token)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
