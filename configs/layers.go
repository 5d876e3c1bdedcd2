package configs

import (
	"maps"
	"slices"
	"strings"
)

// resolveLayers merges the layers of a layered values file for ctx:
//
//	defaults
//	clouds.<cloud>.defaults
//	clouds.<cloud>.environments.<env>.defaults
//	clouds.<cloud>.environments.<env>.regions.<region>
//
// Later layers override earlier ones key by key: mappings merge deeply,
// lists and scalars replace. A cloud or environment that is asked for but
// absent is a problem (a typo would otherwise silently give the defaults);
// a region without a layer of its own simply adds nothing, as most regions
// have none.
func resolveLayers(file string, root *node, ctx Context) (*node, Problems) {
	var probs Problems
	merged := &node{kind: mapNode, line: 1}

	apply := func(layer *node, field string) bool {
		switch {
		case layer.isNull():
			return true
		case layer.kind != mapNode:
			probs.add(file, layer.line, field, "make "+field+" a mapping of values",
				"expected a mapping, got %s", layer.describe())
			return false
		}
		merged = mergeNodes(merged, layer)
		return true
	}

	if !apply(root.get("defaults"), "defaults") {
		return nil, probs
	}
	if ctx.Cloud == "" {
		if ctx.Environment != "" || ctx.Region != "" {
			probs.add(file, 0, "clouds", "set cloud (meshops.yaml or --cloud) together with environment and region",
				"an environment or region was given without a cloud")
			return nil, probs
		}
		return merged, probs
	}
	clouds := root.get("clouds")
	cloud := clouds.get(ctx.Cloud)
	if cloud == nil {
		probs.add(file, root.lineAt("clouds"), "clouds", "use one of the clouds the values file declares",
			"cloud %q is not in the values file (clouds: %s)", ctx.Cloud, keyList(clouds))
		return nil, probs
	}
	cloudField := "clouds." + ctx.Cloud
	if !apply(cloud.get("defaults"), cloudField+".defaults") {
		return nil, probs
	}
	if ctx.Environment == "" {
		if ctx.Region != "" {
			probs.add(file, 0, cloudField+".environments", "set environment (meshops.yaml or --environment) together with region",
				"a region was given without an environment")
			return nil, probs
		}
		return merged, probs
	}
	envs := cloud.get("environments")
	env := envs.get(ctx.Environment)
	if env == nil {
		probs.add(file, cloud.lineAt("environments"), cloudField+".environments", "use one of the environments the values file declares for this cloud",
			"environment %q is not in cloud %q (environments: %s)", ctx.Environment, ctx.Cloud, keyList(envs))
		return nil, probs
	}
	envField := cloudField + ".environments." + ctx.Environment
	if !apply(env.get("defaults"), envField+".defaults") {
		return nil, probs
	}
	if ctx.Region != "" {
		if !apply(env.get("regions").get(ctx.Region), envField+".regions."+ctx.Region) {
			return nil, probs
		}
	}
	return merged, probs
}

// mergeNodes returns over merged onto base: mappings merge key by key, and
// anything else in over replaces base. Neither input is modified.
func mergeNodes(base, over *node) *node {
	if base == nil || base.kind != mapNode || over.kind != mapNode {
		return over
	}
	out := &node{kind: mapNode, line: base.line, entries: slices.Clone(base.entries), unresolved: over.unresolved}
	if base.index != nil {
		out.index = maps.Clone(base.index)
	}
	for _, e := range over.entries {
		if i, ok := out.find(e.key); ok {
			out.entries[i] = entry{key: e.key, line: e.line, val: mergeNodes(out.entries[i].val, e.val)}
			continue
		}
		out.add(e)
	}
	return out
}

// keyList lists the keys of a mapping for messages.
func keyList(n *node) string {
	if n == nil || n.kind != mapNode || len(n.entries) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(n.entries))
	for _, e := range n.entries {
		keys = append(keys, e.key)
	}
	return strings.Join(keys, ", ")
}
