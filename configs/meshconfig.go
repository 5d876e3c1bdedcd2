package configs

import (
	"github.com/meshops/meshops/mesh"
)

// providersFromTree reads extensionProviders[].name from a mesh config
// (either svc.istio.meshConfig in the values or the "mesh" key of a shared
// ConfigMap). A CUSTOM AuthorizationPolicy must name one of them, or Istio
// rejects every request it guards.
func providersFromTree(file string, mc *node, field string) ([]string, Problems) {
	r := &fieldReader{file: file}
	if mc.isNull() {
		return nil, nil
	}
	if mc.kind != mapNode {
		r.wrongType(mc, field, "a mesh config mapping", "write the mesh config as YAML key: value pairs")
		return nil, r.probs
	}
	eps := mc.get("extensionProviders")
	if eps.isNull() {
		return nil, nil
	}
	epField := joinPath(field, "extensionProviders")
	if eps.kind != listNode {
		r.wrongType(eps, epField, "a list of providers", "write extensionProviders as a list: - name: ext-authz")
		return nil, r.probs
	}
	var names []string
	for i, ep := range eps.items {
		f := indexPath(epField, i)
		if ep.kind != mapNode {
			r.wrongType(ep, f, "a provider mapping with a name", "write - name: ext-authz")
			continue
		}
		var name string
		r.str(ep.get("name"), f+".name", &name)
		if name == "" && ep.get("name") == nil {
			r.probs.add(file, ep.line, f+".name", "give the provider a name", "extension provider without a name")
			continue
		}
		if name != "" {
			names = append(names, name)
		}
	}
	return names, r.probs
}

// meshConfigOf parses the mesh key of a shared ConfigMap manifest; its lines
// are counted from the line of the key inside the manifest file. Its values
// draw on b, the load's budget (nil: a budget of its own).
func meshConfigOf(b *budget, m Manifest) ([]string, Problems) {
	file := m.Source.File
	data := m.tree.at("data", mesh.SharedConfigMapMeshKey)
	if data == nil {
		return nil, nil
	}
	field := "data." + mesh.SharedConfigMapMeshKey
	text, ok := data.scalar.(string)
	if !ok || data.kind != scalarNode {
		// ConfigMap data holds strings: the schema check said so.
		return nil, nil
	}
	// A block scalar's content starts on the line after the key; that is
	// as close as positions inside the string can get.
	root, perr := decodeSingle(b, file, []byte(text), nil, data.line)
	if perr != nil {
		perr.Field = field
		perr.Message = "mesh config " + perr.Message
		return nil, Problems{*perr}
	}
	return providersFromTree(file, root, field)
}
