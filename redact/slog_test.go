package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerMasksMessagesAndAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil))).With("url", "https://u:pw-1@h/r")
	log.Info("fetch https://h/r?access_token=tok-2 failed",
		"token", "tok-3", "reason", errors.New("Bearer tok-4-abcdef"),
		slog.Group("auth", "password", "tok-5"), "forwardOriginalToken", true, "commit", "1a2b3c")
	out := buf.String()
	for _, s := range []string{"pw-1", "tok-2", "tok-3", "tok-4", "tok-5"} {
		if strings.Contains(out, s) {
			t.Errorf("log line holds %s: %s", s, out)
		}
	}
	for _, s := range []string{`"forwardOriginalToken":true`, `"commit":"1a2b3c"`, "https://h/r"} {
		if !strings.Contains(out, s) {
			t.Errorf("log line lost %s: %s", s, out)
		}
	}
}
