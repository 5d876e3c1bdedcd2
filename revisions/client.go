package revisions

import (
	"context"
	"errors"
)

// Client drives one cluster's revisions: revisions/aks does it through
// ARM. The planner observes through it; the executor sets revisions and
// waits for the operations.
type Client interface {
	// Observe reads the cluster's revisions; pending is an operation
	// meshops started and has not seen end (from its record), so a running
	// one is resumed instead of raced.
	Observe(ctx context.Context, pending *Operation) (State, error)
	// SetRevisions starts the change to revs and returns the operation,
	// whose resume token the caller keeps before waiting.
	SetRevisions(ctx context.Context, kind Kind, revs []string) (Operation, error)
	// Wait follows op to its end.
	Wait(ctx context.Context, op Operation) error
}

// ErrInProgress matches (errors.Is) a client's refusal to start a change
// because another operation runs on the cluster (ARM's 409): wait for that
// one, never send the change again at once.
var ErrInProgress = errors.New("another operation on the cluster is in progress")
