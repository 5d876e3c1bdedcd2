package redact

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorMasksTheMessageAndKeepsTheChain(t *testing.T) {
	inner := fmt.Errorf("fetch https://ghp_0123456789abcdefABCDEF@host/r: %w", context.DeadlineExceeded)
	err := Error(inner)
	if strings.Contains(err.Error(), "ghp_") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Error() = %q, Is(DeadlineExceeded) = %v", err, errors.Is(err, context.DeadlineExceeded))
	}
	plain := errors.New("nothing to hide")
	if Error(plain) != plain || Error(nil) != nil {
		t.Error("an error without a secret was wrapped")
	}
}
