package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// The error the CLI prints passes the masking rule, whatever produced it:
// here a flag value quoted back in its error.
func TestPrintedErrorsAreMasked(t *testing.T) {
	var stderr bytes.Buffer
	code := runWith([]string{"run", "--schedule", "Bearer planted-123456"}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "--schedule") {
		t.Fatalf("exit %d, stderr %q; want 1 and the flag named", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "planted-123456") {
		t.Errorf("stderr shows the credential: %s", stderr.String())
	}
}
