package configs

import (
	"maps"
	"strconv"
	"strings"
)

// Values overlays: meshops.yaml may name several values files (values: a
// list; the CLI's --values repeated). They are merged in order, later files
// overriding earlier ones key by key, with the same merge as the layers
// (mappings deeply, lists and scalars replaced). Layered files are merged
// as written, before their layers are resolved, so an overlay may add a
// cloud the first file lacks: ARO HCP merges
// config/config.msft.clouds-overlay.yaml (its public clouds) over
// config/config.yaml exactly so.

// loadValues reads and resolves the values files named by the settings,
// merged in order.
func loadValues(repo string, s Settings) (*Values, Problems, error) {
	var (
		srcs  []*valuesSource
		probs Problems
	)
	for _, f := range s.Values {
		data, ps, err := readValuesFile(repo, f)
		if err != nil {
			return nil, nil, err
		}
		probs = append(probs, ps...)
		if data == nil {
			continue
		}
		src, ps := readValuesSource(relPath(repo, valuesPath(repo, f)), data, s.Context)
		probs = append(probs, ps...)
		if src != nil {
			srcs = append(srcs, src)
		}
	}
	if len(probs) > 0 || len(srcs) == 0 {
		// A missing or broken file would make every value it sets look
		// absent, which says nothing the problem does not already say.
		return nil, probs, nil
	}
	v, ps := resolveValues(srcs, s.Context)
	return v, append(probs, ps...), nil
}

// resolveValues merges the sources in order and resolves the layers for ctx.
// The sources are either all layered or all plain: a plain file holds one
// cluster's values and has no place in another cluster's layers.
func resolveValues(srcs []*valuesSource, ctx Context) (*Values, Problems) {
	first := srcs[0]
	v := &Values{file: first.file, layered: first.layered, templates: map[string]unresolvedTemplate{}}
	maps.Copy(v.templates, first.templates)
	root := first.root
	for i, src := range srcs[1:] {
		if src.layered != first.layered {
			var probs Problems
			probs.add(src.file, 1, "", "make every values file layered (defaults, clouds.<cloud>…) or every one plain",
				"%s is %s but %s is %s: they cannot be merged", src.file, valuesFormat(src.layered), first.file, valuesFormat(first.layered))
			return nil, probs
		}
		if v.origin == nil {
			v.origin = map[*node]string{}
			v.files = []string{first.file}
		}
		v.files = append(v.files, src.file)
		// Template ids restart at 0 in every file: prefix an overlay's
		// with its position, so that each names its own template.
		prefix := strconv.Itoa(i+1) + "."
		for id, t := range src.templates {
			v.templates[prefix+id] = t
		}
		mark(src.root, src.file, prefix, v.origin)
		root = mergeNodes(root, src.root)
	}
	if !first.layered {
		v.root = root
		return v, nil
	}
	merged, probs := resolveLayers(first.file, root, ctx)
	if merged == nil {
		return nil, probs
	}
	v.root = merged
	return v, probs
}

// mark records file as the origin of every node under n and prefixes its
// unresolved template ids.
func mark(n *node, file, prefix string, origin map[*node]string) {
	if n == nil {
		return
	}
	origin[n] = file
	for i, id := range n.unresolved {
		n.unresolved[i] = prefix + id
	}
	for _, e := range n.entries {
		mark(e.val, file, prefix, origin)
	}
	for _, it := range n.items {
		mark(it, file, prefix, origin)
	}
}

// templateFile is the file an unresolved template id was written in.
func (v *Values) templateFile(id string) string {
	if i, _, ok := strings.Cut(id, "."); ok {
		if k, err := strconv.Atoi(i); err == nil && k < len(v.files) {
			return v.files[k]
		}
	}
	return v.file
}

func valuesFormat(layered bool) string {
	if layered {
		return "layered"
	}
	return "a plain values file"
}
