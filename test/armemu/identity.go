package armemu

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// jwtBearer is the client_assertion_type of a federated credential
// (workload identity) in the client-credentials flow.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// serveIdentity is the part of Entra ID that azidentity's credentials
// (through MSAL) call when instance discovery is disabled: the tenant's
// OpenID configuration and its v2.0 token endpoint.
func (e *Emulator) serveIdentity(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration" && r.Method == http.MethodGet:
		if !e.knownTenant(w, segs[0]) {
			return
		}
		base := baseURL(r) + "/" + segs[0]
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                base + "/v2.0",
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"tenant_region_scope":                   "NA",
		})
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token" && r.Method == http.MethodPost:
		if !e.knownTenant(w, segs[0]) {
			return
		}
		e.serveToken(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found",
			"error_description": fmt.Sprintf("The emulator serves /{tenant}/v2.0/.well-known/openid-configuration and /{tenant}/oauth2/v2.0/token, not %s %s.", r.Method, r.URL.Path)})
	}
}

func (e *Emulator) knownTenant(w http.ResponseWriter, tenant string) bool {
	if strings.EqualFold(tenant, e.opts.TenantID) {
		return true
	}
	oauthError(w, http.StatusBadRequest, "invalid_tenant", fmt.Sprintf("AADSTS90002: Tenant '%s' not found. The emulator knows tenant %s.", tenant, e.opts.TenantID))
	return false
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "timestamp": time.Now().UTC().Format(time.DateTime)})
}

// serveToken issues an opaque access token for the client-credentials
// grant, authenticated by a client secret or a federated assertion.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: the request body could not be parsed: "+err.Error())
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("AADSTS70003: The emulator supports grant_type client_credentials only, not %q.", gt))
		return
	}
	// MSAL adds the OpenID scopes (openid, profile, offline_access) to the
	// resource's /.default.
	if scope := f.Get("scope"); !slices.ContainsFunc(strings.Fields(scope), func(s string) bool { return strings.HasSuffix(s, "/.default") }) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("AADSTS1002012: The provided value for scope %q is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", scope))
		return
	}
	id := f.Get("client_id")
	var client *Client
	for i := range e.opts.Clients {
		if e.opts.Clients[i].ID == id {
			client = &e.opts.Clients[i]
		}
	}
	if client == nil {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", id, e.opts.TenantID))
		return
	}
	equal := func(got, want string) bool {
		return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
	}
	switch {
	case f.Has("client_secret"):
		if !equal(f.Get("client_secret"), client.Secret) {
			oauthError(w, http.StatusUnauthorized, "invalid_client", fmt.Sprintf("AADSTS7000215: Invalid client secret provided for application '%s'.", id))
			return
		}
	case f.Has("client_assertion"):
		if f.Get("client_assertion_type") != jwtBearer {
			oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS50027: client_assertion_type must be "+jwtBearer+".")
			return
		}
		if !equal(f.Get("client_assertion"), client.Assertion) {
			oauthError(w, http.StatusUnauthorized, "invalid_client", fmt.Sprintf("AADSTS700213: No matching federated identity record found for the presented assertion of application '%s'.", id))
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	tok := randomString(32)
	lifetime := e.opts.TokenLifetime
	e.mu.Lock()
	e.tokens[tok] = time.Now().Add(lifetime)
	e.mu.Unlock()
	secs := int(lifetime.Seconds())
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok,
	})
}

// authenticate checks an ARM request's bearer token the way ARM answers:
// 401 with AuthenticationFailed when the header is missing or malformed,
// InvalidAuthenticationToken when the token is not one it issued,
// ExpiredAuthenticationToken when it has expired.
func (e *Emulator) authenticate(r *http.Request) *armError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return &armError{Status: http.StatusUnauthorized, Code: "AuthenticationFailed", Message: "Authentication failed. The 'Authorization' header is missing."}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return &armError{Status: http.StatusUnauthorized, Code: "AuthenticationFailedInvalidHeader", Message: "Authentication failed. The 'Authorization' header is provided in an invalid format."}
	}
	e.mu.Lock()
	exp, known := e.tokens[strings.TrimSpace(tok)]
	e.mu.Unlock()
	switch {
	case !known:
		return &armError{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: "The access token is invalid."}
	case time.Now().After(exp):
		return &armError{Status: http.StatusUnauthorized, Code: "ExpiredAuthenticationToken",
			Message: fmt.Sprintf("The access token expiry UTC time '%s' is earlier than current UTC time '%s'.", exp.UTC().Format(time.RFC1123), time.Now().UTC().Format(time.RFC1123))}
	}
	return nil
}
