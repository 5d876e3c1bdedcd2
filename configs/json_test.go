package configs

import (
	"context"
	"encoding/json"
	"testing"
)

func TestAppendJSONWritesWhatMarshalWrites(t *testing.T) {
	for name, v := range map[string]any{
		"null":                 nil,
		"booleans":             []any{true, false},
		"integers":             []any{int64(0), int64(-7), int64(9223372036854775807)},
		"floats go to Marshal": []any{1.5, 1e21, 1e-7, float64(3)},
		"plain string":         "cluster.local/ns/maestro/sa/maestro",
		"quotes and escapes":   "a \"b\" \\ c\n\t\x01",
		"HTML characters":      "<script>&amp;</script>",
		"unicode":              "café ✓ \u2028 \u2029",
		"invalid UTF-8":        "\xff\xfe",
		"keys sorted":          map[string]any{"z": int64(1), "a": "x", "m": []any{}, "<": nil},
		"empty":                map[string]any{"spec": map[string]any{}, "rules": []any{}},
		"nested": map[string]any{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"spec": map[string]any{"rules": []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{
				"principals": []any{"cluster.local/ns/a/sa/b"}}}}}}}},
		"other types go to Marshal": map[string]any{"int": 3, "strings": []string{"a"}},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendJSON(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("appendJSON = %s\nMarshal    = %s", got, want)
			}
		})
	}
}

func TestManifestsKeepTheirObjectAsMarshalWritesIt(t *testing.T) {
	repo, err := openRepo(fixtureDir(t), newBudget(DefaultLimits()))
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ms, probs, _, err := loadManifests(context.Background(), repo, "mesh", []string{"asm-1-29"})
	if err != nil || len(probs) > 0 || len(ms) == 0 {
		t.Fatalf("load: %d manifests, %v %v", len(ms), err, probs)
	}
	for _, m := range ms {
		u := m.Unstructured()
		want, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.JSON()) != string(want) {
			t.Errorf("%s: JSON = %s\nwant      %s", m.ID(), m.JSON(), want)
		}
		if u.GetName() != m.GetName() || u.GetNamespace() != m.GetNamespace() || u.GroupVersionKind() != m.GroupVersionKind() {
			t.Errorf("%s: identity differs from the decoded object's: %s/%s %s", m.ID(), u.GetNamespace(), u.GetName(), u.GroupVersionKind())
		}
	}
}
