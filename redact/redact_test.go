package redact

import (
	"encoding/json"
	"strings"
	"testing"
)

// Secrets planted in the corpus. Each must be gone from the output; the
// text around them must stay.
const (
	ghToken = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	jwtText = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZXNob3BzIn0.c2lnbmF0dXJlLWJ5dGVz"
	pemKey  = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----"
	sasKey  = "Qm9vdHN0cmFwU2VjcmV0S2V5MTIzNDU2Nzg5MA=="
	random  = "8fQz2LkP0xWv7RtY3nBm"
)

// One rule, one corpus: every value is judged under its key by String, the
// way Tree, Text and the slog handler judge them. secret lists what must
// not survive (empty: the value must come out unchanged).
func TestStringMasksSecretKeysAndSecretLookingValuesOnly(t *testing.T) {
	for _, tc := range []struct {
		name, key, value string
		secret           []string
	}{
		// Secret keys, in every spelling.
		{"token", "token", "abc-123", []string{"abc-123"}},
		{"bearerToken camelCase", "bearerToken", "s3cr3t", []string{"s3cr3t"}},
		{"password", "password", "hunter2", []string{"hunter2"}},
		{"short password under its key", "password", "admin", []string{"admin"}},
		{"client_secret snake_case", "client_secret", "cs-value", []string{"cs-value"}},
		{"clientSecret", "clientSecret", "cs-value", []string{"cs-value"}},
		{"private-key kebab-case", "private-key", "pk-value", []string{"pk-value"}},
		{"privateKey", "privateKey", "abc", []string{"abc"}},
		{"API_KEY upper snake", "API_KEY", "key-1", []string{"key-1"}},
		{"x-api-key header", "x-api-key", "k-42", []string{"k-42"}},
		{"x-access-key header", "x-access-key", random, []string{random}},
		{"connectionString", "connectionString", "Server=db;Database=x", []string{"Server=db"}},
		{"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https", []string{"DefaultEndpointsProtocol"}},
		{"tls.key file in a Secret", "tls.key", "anything", []string{"anything"}},
		{"annotation with a domain", "example.com/api-token", "t-1", []string{"t-1"}},
		// Credential-like keys: random tokens only.
		{"key holding a random token", "key", random, []string{random}},
		{"signature holding a token", "signature", "c2lnbmF0dXJlLWJ5dGVz0123", []string{"c2lnbmF0dXJlLWJ5dGVz0123"}},
		// Secret values under any key.
		{"Authorization Bearer under a header key", "authorization", "Bearer abc.def-123", []string{"abc.def-123"}},
		{"Bearer under a neutral key", "value", "Bearer 0123456789abcdef", []string{"0123456789abcdef"}},
		{"Basic credentials", "set", "Basic dXNlcjpwYXNzd29yZA==", []string{"dXNlcjpwYXNzd29yZA=="}},
		{"URL with user and password", "url", "https://user:pw-123@git.example.com/org/repo", []string{"pw-123"}},
		{"URL with a GitHub token as user", "repo", "https://" + ghToken + "@github.com/org/config", []string{ghToken}},
		{"short ghp_ user in a URL", "repo", "https://ghp_xxx@host/org/repo", []string{"ghp_xxx"}},
		{"jwksUri with access_token", "jwksUri", "https://login.example.com/keys?access_token=tok123&x=1", []string{"tok123"}},
		{"SAS URL sig", "endpoint", "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=" + sasKey + "&se=2026", []string{sasKey}},
		{"OAuth code parameter", "redirect", "https://app.example.com/cb?code=Zx81kQ&state=s", []string{"Zx81kQ"}},
		{"Service Bus connection string", "endpoint", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=" + sasKey, []string{sasKey}},
		{"storage AccountKey", "storage", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + sasKey + ";EndpointSuffix=core.windows.net", []string{sasKey}},
		{"SQL Password=", "db", "Server=tcp:db,1433;User ID=app;Password=Pa55word!;", []string{"Pa55word!"}},
		{"SharedAccessSignature header value", "x-sas", "SharedAccessSignature sr=ns&sig=" + sasKey + "&se=1700000000&skn=Root", []string{sasKey}},
		{"PEM private key under a neutral key", "data", pemKey, []string{"MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn"}},
		{"PEM cut before its end", "data", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0", []string{"MIIEvQIBADANBgkqhkiG9w0"}},
		{"JWT under a neutral key", "example", jwtText, []string{jwtText}},
		{"GitHub fine-grained token in text", "note", "use github_pat_11ABCDEFG0123456789_abcdefghij to clone", []string{"github_pat_11ABCDEFG0123456789_abcdefghij"}},
		{"AWS access key id", "id", "AKIAIOSFODNN7EXAMPLE", []string{"AKIAIOSFODNN7EXAMPLE"}},
		{"Bearer inside a mesh config's YAML text", "mesh", "extensionProviders:\n- name: authz\n  envoyExtAuthzHttp:\n    headersToUpstreamOnAllow: [x-user]\n    includeAdditionalHeadersInCheck:\n      authorization: Bearer s3cr3t-t0ken\n", []string{"s3cr3t-t0ken"}},
		{"clientSecret inside YAML text", "mesh", "oidc:\n  clientId: app\n  clientSecret: Zk3-9pQ\n", []string{"Zk3-9pQ"}},
		{"secret in JSON inside a string", "config.json", `{"user":"u","password":"pw-in-json"}`, []string{"pw-in-json"}},
		{"header value list", "headers", "x-api-key: k3y-value, x-trace: 1", []string{"k3y-value"}},

		// Not secrets.
		{"forwardOriginalToken: true", "forwardOriginalToken", "true", nil},
		{"a token flag as a string", "enableToken", "false", nil},
		{"a number under a token key", "maxToken", "4096", nil},
		{"password none", "password", "none", nil},
		{"secretName is a reference", "secretName", "gateway-tls", nil},
		{"credentialName is a reference", "credentialName", "ingress-cert", nil},
		{"tokenFile is a path", "tokenFile", "/var/run/secrets/token", nil},
		{"SPIFFE principal", "principals", "cluster.local/ns/maestro/sa/maestro-api", nil},
		{"hostname", "host", "frontend.aro-hcp.svc.cluster.local", nil},
		{"image name", "image", "mcr.microsoft.com/oss/istio/proxyv2:1.29.0", nil},
		{"condition key of an AuthorizationPolicy", "key", "request.headers[x-token]", nil},
		{"short word under a credential key", "auth", "required", nil},
		{"commit hash under a neutral key", "commit", "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d", nil},
		{"revision", "targetVersion", "asm-1-29", nil},
		{"URL without credentials", "jwksUri", "https://login.example.com/keys?tenant=abc&x=1", nil},
		{"ssh user in a URL", "repo", "ssh://git@github.com/org/config.git", nil},
		{"prose about basic authentication", "message", "Basic authentication failed", nil},
		{"prose about a missing token", "error", "Authorization: Bearer token missing or wrong", nil},
		{"prose naming a secret file", "error", "webhook secret: open /etc/meshops/hook: no such file or directory", nil},
		{"UUID under a neutral key", "delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958", nil},
		{"masked already", "token", Marker, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := String(tc.key, tc.value)
			if len(tc.secret) == 0 {
				if got != tc.value {
					t.Errorf("String(%q, %q) = %q, want it unchanged", tc.key, tc.value, got)
				}
				return
			}
			if !strings.Contains(got, Marker) {
				t.Errorf("String(%q, %q) = %q, want it masked", tc.key, tc.value, got)
			}
			for _, s := range tc.secret {
				if strings.Contains(got, s) {
					t.Errorf("String(%q, …) = %q still holds %q", tc.key, got, s)
				}
			}
			if again := String(tc.key, got); again != got {
				t.Errorf("masking twice changed %q to %q", got, again)
			}
		})
	}
}

// Text keeps what surrounds a secret, so an error or a mesh config still
// reads: only the credential itself is replaced.
func TestTextReplacesOnlyTheCredential(t *testing.T) {
	for in, want := range map[string]string{
		"fetch refs/heads/main from https://" + ghToken + "@github.com/org/c: authentication required": "fetch refs/heads/main from https://" + Marker + "@github.com/org/c: authentication required",
		"GET https://h/keys?access_token=abc123&tenant=t":                                              "GET https://h/keys?access_token=" + Marker + "&tenant=t",
		"authorization: Bearer s3cr3t-t0ken\nother: x":                                                 "authorization: Bearer " + Marker + "\nother: x",
		"https://user:pw@host/x":                                                                       "https://user:" + Marker + "@host/x",
		"a;SharedAccessKey=abc=;b":                                                                     "a;SharedAccessKey=" + Marker + ";b",
		"forwardOriginalToken: true\nclientSecret: 'Zk3-9pQ'":                                          "forwardOriginalToken: true\nclientSecret: '" + Marker + "'",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// Tree walks decoded YAML: keys and values at any depth, name/value pairs,
// and leaves booleans and numbers alone.
func TestTreeMasksByKeyByValueAndByPairName(t *testing.T) {
	tree := map[string]any{
		"forwardOriginalToken": true,
		"maxTokens":            3,
		"token":                42,
		"oidc":                 map[string]any{"clientSecret": "cs-1", "clientId": "app"},
		"env": []any{
			map[string]any{"name": "DB_PASSWORD", "value": "pw-1"},
			map[string]any{"name": "LOG_LEVEL", "value": "debug"},
		},
		"headers": map[string]any{"request": map[string]any{"set": map[string]any{"authorization": "Bearer abc-123456"}}},
		"urls":    []any{"https://u:pw-2@h/x", "https://h/y"},
	}
	Tree("", tree)
	if tree["forwardOriginalToken"] != true || tree["maxTokens"] != 3 || tree["token"] != 42 {
		t.Errorf("booleans and numbers changed: %v", tree)
	}
	oidc := tree["oidc"].(map[string]any)
	if oidc["clientSecret"] != Marker || oidc["clientId"] != "app" {
		t.Errorf("oidc = %v", oidc)
	}
	env := tree["env"].([]any)
	if env[0].(map[string]any)["value"] != Marker || env[1].(map[string]any)["value"] != "debug" {
		t.Errorf("env = %v", env)
	}
	set := tree["headers"].(map[string]any)["request"].(map[string]any)["set"].(map[string]any)
	if set["authorization"] != "Bearer "+Marker {
		t.Errorf("header = %v", set)
	}
	urls := tree["urls"].([]any)
	if urls[0] != "https://u:"+Marker+"@h/x" || urls[1] != "https://h/y" {
		t.Errorf("urls = %v", urls)
	}
}

func TestURLDropsCredentialsAndKeepsTheRest(t *testing.T) {
	for in, want := range map[string]string{
		"https://ghp_xxx@host/org/repo":                         "https://" + Marker + "@host/org/repo",
		"https://x-access-token:" + ghToken + "@github.com/o/r": "https://x-access-token:" + Marker + "@github.com/o/r",
		"https://host/org/repo?access_token=abc&ref=main":       "https://host/org/repo?access_token=" + Marker + "&ref=main",
		"https://host/org/repo.git":                             "https://host/org/repo.git",
		"ssh://git@host:2222/org/repo.git":                      "ssh://git@host:2222/org/repo.git",
		"git@github.com:org/repo.git":                           "git@github.com:org/repo.git",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Text on JSON text leaves valid JSON: renderers mask their whole output.
func TestTextKeepsJSONValid(t *testing.T) {
	doc := map[string]any{
		"reason": `ConfigMap "x" is invalid: data.mesh: Invalid value: "authorization: Bearer s3cr3t-t0ken\nclientSecret: \"Zk3\\9pQ\""`,
		"diff":   "+  url: https://u:p@h/x?access_token=a\\b&x=1\n+  conn: a;AccountKey=k\\\"z;b\n" + pemKey,
		"cut":    "-----BEGIN PRIVATE KEY-----\nMIIEvQ",
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	masked := Text(string(data))
	var back map[string]any
	if err := json.Unmarshal([]byte(masked), &back); err != nil {
		t.Fatalf("masked JSON does not parse: %v\n%s", err, masked)
	}
	if len(back) != len(doc) || !strings.Contains(back["diff"].(string), "x=1") {
		t.Errorf("masking swallowed JSON fields: %s", masked)
	}
	for _, s := range []string{"s3cr3t-t0ken", "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn", "MIIEvQ"} {
		if strings.Contains(masked, s) {
			t.Errorf("masked JSON holds %s: %s", s, masked)
		}
	}
}
