package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/plan"
)

// baseConfig is the config at the ref a pull request merges into, for
// plan --base. It is loaded before the cluster is contacted, so a wrong ref
// fails fast.
type baseConfig struct {
	ref, commit string
	cfg         *configs.Config
	// problems the config had at that ref: already merged, so they are
	// reported, not fatal.
	problems configs.Problems
}

func loadBase(ctx context.Context, opts configs.Options, ref string) (*baseConfig, error) {
	cfg, commit, err := configs.LoadGitRef(ctx, opts, ref)
	b := &baseConfig{ref: ref, commit: commit, cfg: cfg}
	if err != nil && !errors.As(err, &b.problems) {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("--base %s: %w", ref, err)}
	}
	return b, nil
}

// compare puts what the change does to the config on the plan.
func (b *baseConfig) compare(p *plan.Plan, head *configs.Config) error {
	changes, err := plan.CompareConfigs(b.cfg, head)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("--base %s: %w", b.ref, err)}
	}
	changes.Base, changes.BaseCommit = b.ref, b.commit
	p.ConfigChanges = changes
	if len(b.problems) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the config at %s (%s) has %d problems; the changes to the config compare what could be read of it", b.ref, b.commit, len(b.problems)))
	}
	return nil
}
