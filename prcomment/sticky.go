package prcomment

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Result is the comment as it stands after Upsert.
type Result struct {
	Comment
	// Created: no comment of this key existed; one was made.
	Created bool
}

// Upsert makes body the text of the pull request's comment for key: the
// first comment whose body starts with Marker(key) is edited in place,
// and one is created when there is none. body must start with that marker
// (Body builds it so).
//
// A create that fails with a 5xx answer or a network error may still have
// been made on GitHub's side, so before creating again Upsert looks for
// the comment again: a lost answer never leaves two comments.
func (g *GitHub) Upsert(ctx context.Context, pr PullRequest, key, body string) (Result, error) {
	marker := Marker(key)
	if !strings.HasPrefix(body, marker) {
		return Result{}, fmt.Errorf("comment body does not start with its marker %s", marker)
	}
	for attempt := 1; ; attempt++ {
		comments, err := g.listComments(ctx, pr)
		if err != nil {
			return Result{}, fmt.Errorf("listing the comments of %s: %w", pr, err)
		}
		for _, c := range comments {
			if strings.HasPrefix(c.Body, marker) {
				updated, err := g.updateComment(ctx, pr, c.ID, body)
				if err != nil {
					return Result{}, fmt.Errorf("updating comment %d on %s: %w", c.ID, pr, err)
				}
				return Result{Comment: updated}, nil
			}
		}
		created, err := g.createComment(ctx, pr, body)
		if err == nil {
			return Result{Comment: created, Created: true}, nil
		}
		// Only a 5xx answer or a lost connection leaves it unknown whether
		// the comment was made; anything else is final.
		var apiErr *APIError
		unknown := !errors.As(err, &apiErr) || apiErr.Status >= 500
		if ctx.Err() != nil || !unknown || attempt >= g.o.Attempts {
			return Result{}, fmt.Errorf("commenting on %s: %w", pr, err)
		}
		wait := g.backoff(attempt)
		g.o.Log.Info("creating the comment failed; looking again before another try", "pr", pr.String(), "attempt", attempt, "wait", wait, "error", err)
		if err := g.o.Sleep(ctx, wait); err != nil {
			return Result{}, err
		}
	}
}
