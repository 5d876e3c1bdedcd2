package redact

import (
	"encoding/json"
	"testing"
)

// Masking twice changes nothing more, and masking JSON text leaves JSON:
// renderers and the PR comment mask text that may already be masked, and
// the JSON plan is masked whole.
func FuzzTextIsIdempotentAndKeepsJSONValid(f *testing.F) {
	for _, s := range []string{
		"authorization: Bearer s3cr3t-t0ken", "https://u:p@h/x?access_token=a&b=1", pemKey,
		"-----BEGIN PRIVATE KEY-----\nMIIE\"x", "a;AccountKey=k\\\"z;b", jwtText, ghToken, "clientSecret: 'x'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := Text(s)
		if twice := Text(once); twice != once {
			t.Errorf("Text(Text(%q)) = %q, want %q", s, twice, once)
		}
		data, err := json.Marshal(map[string]string{"a": s, "b": s + "\n" + s})
		if err != nil {
			return
		}
		if masked := Text(string(data)); !json.Valid([]byte(masked)) {
			t.Errorf("masked JSON of %q does not parse: %s", s, masked)
		}
	})
}
