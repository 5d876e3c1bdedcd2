package configs

import (
	"strings"
	"testing"

	"github.com/meshops/meshops/redact"
)

// validate --show prints svc.istio as resolved: secrets there are masked
// by key and by value, harmless booleans are not, and the config it was
// given keeps its values.
func TestShowMasksSecretsInSvcIstio(t *testing.T) {
	istio := map[string]any{
		"targetVersion":        "asm-1-29",
		"forwardOriginalToken": true,
		"clientSecret":         "cs-planted-1",
		"privateKey":           "pk-planted-2",
		"token":                "tok-planted-3",
		"extAuthz":             map[string]any{"headers": map[string]any{"authorization": "Bearer planted-4-abcdef", "x-access-key": "Zq81LmWv03PaTy7uKx2R"}},
		"jwksUri":              "https://login.example.com/keys?access_token=planted-5",
		"eventHub":             "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccessKey=planted-6",
		"repo":                 "https://user:planted-7@git.example.com/config",
	}
	c := &Config{Values: map[string]any{"svc": map[string]any{"istio": istio}}}
	out, err := Show(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, planted := range []string{"cs-planted-1", "pk-planted-2", "tok-planted-3", "planted-4", "Zq81LmWv03PaTy7uKx2R", "planted-5", "planted-6", "planted-7"} {
		if strings.Contains(string(out), planted) {
			t.Errorf("Show printed %s:\n%s", planted, out)
		}
	}
	for _, want := range []string{"forwardOriginalToken: true", "targetVersion: asm-1-29", "clientSecret: '" + redact.Marker + "'", "https://login.example.com/keys?access_token="} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Show output lacks %q:\n%s", want, out)
		}
	}
	if istio["clientSecret"] != "cs-planted-1" {
		t.Error("Show wrote into the config it was given")
	}
}
