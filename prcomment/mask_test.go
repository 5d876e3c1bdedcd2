package prcomment

import (
	"strings"
	"testing"
)

// A plan file rendered elsewhere (an older meshops, a hand edit in CI) is
// masked by the same rule before it is posted.
func TestBodyMasksSecretsInThePlanItPosts(t *testing.T) {
	plan := "### meshops plan\n\n```diff\n+    authorization: Bearer planted-1-abcdef\n+  clientSecret: planted-2\n```\nrepo https://ghp_0123456789abcdefABCDEF@github.com/o/c\n"
	body, _ := Body(plan, BodyOptions{Key: "dev-westus3"})
	for _, planted := range []string{"planted-1", "planted-2", "ghp_"} {
		if strings.Contains(body, planted) {
			t.Errorf("comment body holds %s:\n%s", planted, body)
		}
	}
	if !strings.Contains(body, "github.com/o/c") || !strings.Contains(body, "Cluster `dev-westus3`") {
		t.Errorf("masking lost the rest of the plan:\n%s", body)
	}
}
