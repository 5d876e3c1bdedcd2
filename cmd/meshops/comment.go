package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshops/meshops/prcomment"
)

func newCommentCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "comment",
		Short: "Post a plan where reviewers look: a pull-request comment kept up to date",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCommentGitHubCommand(g))
	return cmd
}

func newCommentGitHubCommand(g *globalFlags) *cobra.Command {
	var (
		number     int
		repository string
		planFile   string
		cluster    string
		apiURL     string
		fullPlan   string
	)
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Create or update the plan comment of a GitHub pull request",
		Long: `github posts a Markdown plan (meshops plan -o markdown) as a comment on a
pull request, or edits the comment it posted before: one comment per pull
request and --cluster, found by a hidden marker, updated on every push.
A plan longer than GitHub's 65,536 characters keeps its summary; diffs and
then the last sections are left out, with a note that points to the whole
plan (--full-plan-url, e.g. the CI artifact).

The token is read from GITHUB_TOKEN; it needs to write pull-request comments
(GitHub Actions: permissions: pull-requests: write). Rate limits and 5xx
answers are retried with backoff; 401, 403 and 404 end with what to check.`,
		Example: `  meshops comment github --pr 42 --repository Azure/ARO-HCP --plan plan.md --cluster dev-westus3`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fail := func(err error) error { return &exitError{code: exitFailed, err: err} }
			pr, err := prcomment.ParsePullRequest(repository, number)
			if err != nil {
				return fail(err)
			}
			if err := prcomment.ValidKey(cluster); err != nil {
				return fail(fmt.Errorf("--cluster: %w", err))
			}
			plan, err := readPlan(cmd.InOrStdin(), planFile)
			if err != nil {
				return fail(err)
			}
			opts := prcomment.DefaultOptions()
			opts.APIURL, opts.Token, opts.Log = apiURL, os.Getenv("GITHUB_TOKEN"), g.logger()
			gh, err := prcomment.NewGitHub(opts)
			if err != nil {
				return fail(err)
			}
			body, cut := prcomment.Body(plan, prcomment.BodyOptions{Key: cluster, FullPlan: fullPlan})
			res, err := gh.Upsert(cmd.Context(), pr, cluster, body)
			if err != nil {
				return fail(err)
			}
			verb := "updated"
			if res.Created {
				verb = "created"
			}
			if cut {
				verb += " (cut to fit)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s comment %d on %s: %s\n", verb, res.ID, pr, res.HTMLURL)
			return nil
		},
	}
	defaultAPI := os.Getenv("GITHUB_API_URL")
	if defaultAPI == "" {
		defaultAPI = prcomment.DefaultAPIURL
	}
	fl := cmd.Flags()
	fl.IntVar(&number, "pr", 0, "pull request number")
	fl.StringVar(&repository, "repository", os.Getenv("GITHUB_REPOSITORY"), "repository as owner/name (default $GITHUB_REPOSITORY)")
	fl.StringVar(&planFile, "plan", "", "Markdown plan file from meshops plan -o markdown; - reads stdin")
	fl.StringVar(&cluster, "cluster", "", "cluster name: each cluster keeps its own comment on the pull request")
	fl.StringVar(&apiURL, "api-url", defaultAPI, "GitHub REST API root, https://HOST/api/v3 for GitHub Enterprise Server; defaults to $GITHUB_API_URL when set")
	fl.StringVar(&fullPlan, "full-plan-url", "", "where the whole plan is, linked when the comment is cut to fit (e.g. the CI artifact's URL)")
	_ = cmd.MarkFlagRequired("pr")
	_ = cmd.MarkFlagRequired("plan")
	return documentExitCodes(cmd,
		exitCode{exitOK, "comment created or updated"},
		exitCode{exitFailed, "error (bad flag, unreadable plan, GitHub refused or unreachable)"},
	)
}

// readPlan reads the plan file, or stdin for "-".
func readPlan(stdin io.Reader, name string) (string, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return "", fmt.Errorf("reading the plan: %w", err)
	}
	if len(data) == 0 {
		return "", fmt.Errorf("the plan %s is empty: did meshops plan fail?", name)
	}
	return string(data), nil
}
