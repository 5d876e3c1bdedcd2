package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/redact"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ConfigEdit is what a change did to one value or manifest of the config.
type ConfigEdit string

const (
	EditAdded   ConfigEdit = "added"
	EditChanged ConfigEdit = "changed"
	EditRemoved ConfigEdit = "removed"
)

// ConfigChanges is what a pull request changes in the config repo itself,
// against its base: the resolved values for this cluster, meshops.yaml, and
// the managed objects. It sits beside the plan, which says what the same
// change would do to the cluster. Secret-like values are masked.
type ConfigChanges struct {
	// Base is the git ref compared against (e.g. origin/main), BaseCommit
	// the commit it resolved to.
	Base       string `json:"base"`
	BaseCommit string `json:"baseCommit,omitempty"`
	// Values are the leaves of the resolved values that moved, by dotted
	// key (svc.istio.targetVersion); lists compare whole.
	Values []ValueChange `json:"values,omitempty"`
	// Settings are the fields of meshops.yaml that moved (meshops.namespaces).
	Settings []ValueChange `json:"settings,omitempty"`
	// Manifests are the managed objects added, changed or removed, by ID.
	Manifests []ManifestChange `json:"manifests,omitempty"`
}

// ValueChange is one value that moved. Before and After are the values as
// short text (JSON for lists and mappings), MaskMarker when the key looks
// secret; empty on the side where the key does not exist.
type ValueChange struct {
	Key    string     `json:"key"`
	Edit   ConfigEdit `json:"edit"`
	Before string     `json:"before,omitempty"`
	After  string     `json:"after,omitempty"`
}

// ManifestChange is one managed object the change adds, changes or removes.
type ManifestChange struct {
	ID   string     `json:"id"`
	Edit ConfigEdit `json:"edit"`
	// Source is the manifest's file:line in the head, or in the base when
	// it was removed.
	Source string `json:"source"`
	// Diff is a unified YAML diff base → head with secrets masked; empty
	// for a change when only masked values changed.
	Diff string `json:"diff,omitempty"`
}

// Empty reports whether the config did not change.
func (c *ConfigChanges) Empty() bool {
	return len(c.Values) == 0 && len(c.Settings) == 0 && len(c.Manifests) == 0
}

// maxValueText bounds a value shown in a change; a long certificate or
// JSON blob says nothing useful in a table cell.
const maxValueText = 120

// CompareConfigs lists what changed from base to head. Both are configs
// of the same cluster (the same cloud, environment and region), so the
// values compared are the ones this cluster resolves. Base and BaseCommit
// are left for the caller to fill.
func CompareConfigs(base, head *configs.Config) (*ConfigChanges, error) {
	c := &ConfigChanges{}
	c.Values = compareValues(base.Values, head.Values)
	bs, err := settingsMap(base.Settings)
	if err != nil {
		return nil, err
	}
	hs, err := settingsMap(head.Settings)
	if err != nil {
		return nil, err
	}
	c.Settings = compareValues(bs, hs)
	c.Manifests, err = compareManifests(base.Manifests, head.Manifests)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// compareValues compares two value trees leaf by leaf, sorted by key with
// svc.istio first: those are the values meshops acts on.
func compareValues(base, head map[string]any) []ValueChange {
	b, h := map[string]any{}, map[string]any{}
	flatten("", base, b)
	flatten("", head, h)
	var out []ValueChange
	for k, hv := range h {
		bv, ok := b[k]
		switch {
		case !ok:
			out = append(out, ValueChange{Key: k, Edit: EditAdded, After: valueText(k, hv)})
		case !sameJSON(bv, hv):
			out = append(out, ValueChange{Key: k, Edit: EditChanged, Before: valueText(k, bv), After: valueText(k, hv)})
		}
	}
	for k, bv := range b {
		if _, ok := h[k]; !ok {
			out = append(out, ValueChange{Key: k, Edit: EditRemoved, Before: valueText(k, bv)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ii, ij := istioValue(out[i].Key), istioValue(out[j].Key)
		if ii != ij {
			return ii
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// istioValue reports whether a values key is one of svc.istio, which
// meshops reads, or regionRG.
func istioValue(key string) bool {
	return strings.HasPrefix(key, "svc.istio.") || key == "regionRG"
}

// flatten maps every leaf under v to its dotted key. Lists are leaves:
// their entries have no stable identity to compare by.
func flatten(prefix string, v any, out map[string]any) {
	if m, ok := v.(map[string]any); ok && (len(m) > 0 || prefix == "") {
		for k, child := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, child, out)
		}
		return
	}
	out[prefix] = v
}

// valueText renders a value for a change list, masked when its key looks
// secret, as JSON when it is not a one-line string, and cut to length.
func valueText(key string, v any) string {
	last := key[strings.LastIndex(key, ".")+1:]
	masked := redact.Tree(last, deepCopyJSON(v))
	var s string
	if str, ok := masked.(string); ok && str != "" && !strings.Contains(str, "\n") {
		s = str
	} else {
		data, err := json.Marshal(masked)
		if err != nil {
			s = fmt.Sprint(masked)
		} else {
			s = string(data)
		}
	}
	if r := []rune(s); len(r) > maxValueText {
		s = string(r[:maxValueText-1]) + "…"
	}
	return s
}

// deepCopyJSON copies maps and lists so masking does not write into the
// config it was given.
func deepCopyJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[k] = deepCopyJSON(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = deepCopyJSON(c)
		}
		return out
	default:
		return v
	}
}

// settingsMap is meshops.yaml as its fields are written, for comparison.
func settingsMap(s configs.Settings) (map[string]any, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("comparing settings: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("comparing settings: %w", err)
	}
	return m, nil
}

// compareManifests pairs manifests by ID and diffs the pairs that differ.
func compareManifests(base, head []configs.Manifest) ([]ManifestChange, error) {
	byID := make(map[string]configs.Manifest, len(base))
	for _, m := range base {
		byID[m.ID()] = m
	}
	var out []ManifestChange
	seen := map[string]bool{}
	for _, m := range head {
		id := m.ID()
		seen[id] = true
		b, ok := byID[id]
		// Both sides are encoding/json's compact form: equal objects
		// are equal bytes.
		if ok && bytes.Equal(b.JSON(), m.JSON()) {
			continue
		}
		ch := ManifestChange{ID: id, Edit: EditAdded, Source: m.Source.String()}
		var before *unstructured.Unstructured
		if ok {
			ch.Edit = EditChanged
			before = b.Unstructured()
		}
		diff, err := labeledDiff("base/"+id, "head/"+id, before, m.Unstructured())
		if err != nil {
			return nil, fmt.Errorf("%s: %s: rendering diff: %w", m.Source, id, err)
		}
		ch.Diff = diff
		out = append(out, ch)
	}
	for _, m := range base {
		id := m.ID()
		if seen[id] {
			continue
		}
		diff, err := labeledDiff("base/"+id, "head/"+id, m.Unstructured(), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: rendering diff: %w", m.Source, id, err)
		}
		out = append(out, ManifestChange{ID: id, Edit: EditRemoved, Source: m.Source.String(), Diff: diff})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
