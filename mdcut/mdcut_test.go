package mdcut

import (
	"strings"
	"testing"
)

const doc = "# plan\n\n<details><summary>a</summary>\n\n```diff\n+aaaa\n```\n\n</details>\n\n<details><summary>b</summary>\n\n```diff\n+bbbb\n```\n\n</details>\n"

func TestFit(t *testing.T) {
	cases := []struct {
		name          string
		budget        int
		opts          Options
		dropped       int
		tail          bool
		keeps, leaves []string
		measure       func(string) int
	}{
		{name: "a document that fits is kept whole", budget: len(doc), keeps: []string{"+aaaa", "+bbbb"}},
		{name: "the last block goes first", budget: len(doc) - 1, dropped: 1, keeps: []string{"+aaaa"}, leaves: []string{"+bbbb"}},
		{name: "with AllBlocks every block goes once one must", budget: len(doc) - 1, opts: Options{AllBlocks: true}, dropped: 2,
			keeps: []string{"<summary>b</summary>"}, leaves: []string{"+aaaa", "+bbbb", "```"}},
		{name: "past the blocks the end is cut at a top-level boundary", budget: 60, dropped: 2, tail: true,
			keeps: []string{"# plan", "<summary>a</summary>"}, leaves: []string{"<summary>b</summary>"}},
		{name: "characters are counted as runes when asked", budget: len([]rune(doc)), measure: Runes, keeps: []string{"+bbbb"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.measure
			if m == nil {
				m = Bytes
			}
			r := Fit(doc, c.budget, m, c.opts)
			if len(r.Kept) > c.budget || r.Dropped != c.dropped || r.Blocks != 2 || r.Tail != c.tail {
				t.Errorf("kept %d bytes (budget %d), dropped %d of %d, tail %v; want dropped %d, tail %v:\n%s",
					len(r.Kept), c.budget, r.Dropped, r.Blocks, r.Tail, c.dropped, c.tail, r.Kept)
			}
			for _, k := range c.keeps {
				if !strings.Contains(r.Kept, k) {
					t.Errorf("lost %q:\n%s", k, r.Kept)
				}
			}
			for _, l := range c.leaves {
				if strings.Contains(r.Kept, l) {
					t.Errorf("kept %q:\n%s", l, r.Kept)
				}
			}
			if strings.Count(r.Kept, "<details>") != strings.Count(r.Kept, "</details>") || strings.Count(r.Kept, "```")%2 != 0 {
				t.Errorf("unbalanced cut:\n%s", r.Kept)
			}
		})
	}
}
