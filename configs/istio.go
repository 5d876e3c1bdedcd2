package configs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/revisions"
)

// Istio is what meshops reads from the values: the svc.istio keys ARO HCP
// keeps, plus the regional resource group.
type Istio struct {
	// Versions are the installed control-plane revisions
	// (svc.istio.versions), oldest first.
	Versions []mesh.Revision `json:"versions"`
	// Target is the revision workloads should run on
	// (svc.istio.targetVersion, or the single entry of Versions).
	Target mesh.Revision `json:"target"`
	// Shape is how versions was written: one revision (single: install it
	// and remove the previous one once verified) or several (list: keep
	// every listed revision installed). Empty when versions could not be
	// read.
	Shape revisions.Shape `json:"shape,omitempty"`
	// Tag is the revision tag namespaces are labelled with (svc.istio.tag).
	Tag string `json:"tag"`
	// IngressGatewayIPAddressName is the public IP of the ingress gateway
	// (svc.istio.ingressGatewayIPAddressName).
	IngressGatewayIPAddressName string `json:"ingressGatewayIPAddressName,omitempty"`
	// RegionRG is the regional resource group (top-level regionRG), where
	// the ingress IP address lives; empty when the values have none.
	RegionRG string `json:"regionRG,omitempty"`
	// ExtensionProviders are the providers declared in
	// svc.istio.meshConfig.extensionProviders, if the values have any. The
	// per-revision ConfigMaps may declare more.
	ExtensionProviders []string `json:"extensionProviders,omitempty"`
}

// VersionNames returns the names of Versions.
func (i Istio) VersionNames() []string {
	names := make([]string, len(i.Versions))
	for k, v := range i.Versions {
		names[k] = v.Name
	}
	return names
}

// ShapeSummary says which shape of versions was read and what it means,
// for meshops validate.
func (i Istio) ShapeSummary() string {
	switch i.Shape {
	case revisions.ShapeSingle:
		return fmt.Sprintf("single revision %s: %s", i.Target.Name, i.Shape.Meaning())
	case revisions.ShapeList:
		return fmt.Sprintf("list %s with target %s: %s", strings.Join(i.VersionNames(), ", "), i.Target.Name, i.Shape.Meaning())
	}
	return "unknown: versions could not be read"
}

// HasVersion reports whether name is one of Versions.
func (i Istio) HasVersion(name string) bool {
	for _, v := range i.Versions {
		if v.Name == name {
			return true
		}
	}
	return false
}

// istioLines remembers where the svc.istio fields were written, and which
// could not be read, so that validate does not pile consequences ("no tag")
// onto a problem already reported (a tag whose template failed).
type istioLines struct {
	file   string
	files  map[string]string // "svc.istio.tag" → the values file it was read from, when not file
	fields map[string]int    // "svc.istio.tag" → line
	failed map[string]bool   // "svc.istio.tag" → a problem was reported; "svc.istio": all failed
}

// ok reports whether field was read without problems.
func (l *istioLines) ok(field string) bool {
	return l == nil || (!l.failed[field] && !l.failed["svc.istio"])
}

// fileOf is the values file field was read from.
func (l *istioLines) fileOf(field string) string {
	if l == nil {
		return ""
	}
	if f, ok := l.files[field]; ok {
		return f
	}
	return l.file
}

func (l *istioLines) line(field string) int {
	if l == nil {
		return 0
	}
	if n, ok := l.fields[field]; ok {
		return n
	}
	return l.fields["svc.istio"]
}

// readIstio reads svc.istio and regionRG from the values. Shape problems
// (a wrong type, a name that does not follow the revision pattern, no way
// to choose the target) are reported here; relations between fields are
// left to validate.
func readIstio(v *Values, pattern mesh.RevisionPattern) (Istio, *istioLines, Problems) {
	var (
		out   Istio
		probs Problems
		lines = &istioLines{file: v.File(), files: map[string]string{}, fields: map[string]int{}, failed: map[string]bool{}}
		r     = &fieldReader{file: v.File()}
	)
	// get reads one key, reporting an unrenderable template as a problem.
	get := func(path ...string) *node {
		n, err := v.lookupNode(path...)
		if err != nil {
			probs = append(probs, err.(Problem))
			return nil
		}
		if n != nil {
			field := strings.Join(path, ".")
			lines.fields[field] = n.line
			if f := v.fileOf(n); f != v.File() {
				lines.files[field] = f
			}
			// Problems about this value name the file it came from.
			r.file = v.fileOf(n)
		}
		return n
	}

	defer func() {
		for _, p := range probs {
			lines.failed[p.Field] = true
		}
	}()

	istio := v.root.at("svc", "istio")
	if istio == nil {
		probs.add(v.File(), 0, "svc.istio", "add svc.istio with versions, targetVersion and tag to the values",
			"no svc.istio in the values for this cluster")
		return out, lines, probs
	}
	lines.fields["svc.istio"] = v.root.at("svc").keyLine("istio")
	if istio.kind != mapNode {
		r.wrongType(istio, "svc.istio", "a mapping", "write svc.istio as key: value pairs")
		probs = append(probs, r.probs...)
		return out, lines, probs
	}

	// versions: "asm-1-28,asm-1-29" as ARO HCP writes it, or a YAML list.
	var names []string
	var nameLines []int
	if n := get("svc", "istio", "versions"); n == nil {
		if _, err := v.lookupNode("svc", "istio", "versions"); err == nil {
			probs.add(v.File(), lines.line("svc.istio"), "svc.istio.versions", `add svc.istio.versions, e.g. versions: "asm-1-29"`,
				"no versions: meshops needs the installed control-plane revisions")
		}
	} else if s, ok := n.scalar.(string); ok && n.kind == scalarNode {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				names = append(names, part)
				nameLines = append(nameLines, n.line)
			}
		}
		if len(names) == 0 {
			probs.add(v.fileOf(n), n.line, "svc.istio.versions", `list at least one revision, e.g. versions: "asm-1-29"`,
				"versions is empty")
		}
	} else if n.kind == listNode {
		names, nameLines = r.stringList(n, "svc.istio.versions")
		if len(n.items) == 0 {
			probs.add(v.fileOf(n), n.line, "svc.istio.versions", `list at least one revision, e.g. versions: ["asm-1-29"]`,
				"versions is empty")
		}
	} else {
		r.wrongType(n, "svc.istio.versions", `a comma-separated string ("asm-1-28,asm-1-29") or a list`,
			`write versions: "asm-1-28,asm-1-29"`)
	}
	seen := map[string]int{}
	for i, name := range names {
		field := "svc.istio.versions"
		if prev, dup := seen[name]; dup {
			probs.add(lines.fileOf(field), nameLines[i], field, "list each revision once",
				"revision %q is listed twice (entries %d and %d)", name, prev+1, i+1)
			continue
		}
		seen[name] = i
		rev, err := pattern.Parse(name)
		if err != nil {
			probs.add(lines.fileOf(field), nameLines[i], field, revisionFix(pattern), "%v", err)
			continue
		}
		out.Versions = append(out.Versions, rev)
	}
	mesh.SortRevisions(out.Versions)
	// One revision, however written, is the single shape: install it and
	// remove the previous one once verified.
	switch {
	case len(names) == 1:
		out.Shape = revisions.ShapeSingle
	case len(names) > 1:
		out.Shape = revisions.ShapeList
	}

	// targetVersion: when absent, the single entry of versions.
	var target string
	if n := get("svc", "istio", "targetVersion"); n != nil {
		r.str(n, "svc.istio.targetVersion", &target)
	}
	switch {
	case target != "":
		rev, err := pattern.Parse(target)
		if err != nil {
			probs.add(lines.fileOf("svc.istio.targetVersion"), lines.line("svc.istio.targetVersion"), "svc.istio.targetVersion", revisionFix(pattern), "%v", err)
		} else {
			out.Target = rev
		}
	case len(names) == 1 && len(out.Versions) == 1:
		out.Target = out.Versions[0]
	case len(names) > 1:
		probs.add(lines.fileOf("svc.istio.targetVersion"), lines.line("svc.istio.targetVersion"), "svc.istio.targetVersion",
			"set svc.istio.targetVersion to the revision workloads should run on, one of: "+strings.Join(names, ", "),
			"no targetVersion and versions lists %d revisions (%s): meshops cannot choose", len(names), strings.Join(names, ", "))
	}

	if n := get("svc", "istio", "tag"); n != nil {
		r.str(n, "svc.istio.tag", &out.Tag)
	}
	if n := get("svc", "istio", "ingressGatewayIPAddressName"); n != nil {
		r.str(n, "svc.istio.ingressGatewayIPAddressName", &out.IngressGatewayIPAddressName)
	}
	// istioctlVersion is read and ignored: meshops talks to the API server
	// directly and needs no istioctl.
	if n := get("regionRG"); n != nil {
		r.str(n, "regionRG", &out.RegionRG)
	}
	if mc := get("svc", "istio", "meshConfig"); mc != nil {
		names, probsMC := providersFromTree(v.fileOf(mc), mc, "svc.istio.meshConfig")
		out.ExtensionProviders = names
		probs = append(probs, probsMC...)
	}
	probs = append(probs, r.probs...)
	// The gateway Service carries both Azure annotations or neither: a
	// public IP name without its resource group makes the cloud provider
	// look for the IP in the wrong group. A regionRG that failed to render
	// is already reported.
	if out.IngressGatewayIPAddressName != "" && out.RegionRG == "" && !slices.ContainsFunc(probs, func(p Problem) bool { return p.Field == "regionRG" }) {
		probs.add(lines.fileOf("svc.istio.ingressGatewayIPAddressName"), lines.line("svc.istio.ingressGatewayIPAddressName"), "regionRG",
			"set regionRG (the resource group of the public IP) or remove svc.istio.ingressGatewayIPAddressName",
			"svc.istio.ingressGatewayIPAddressName is set but regionRG is not: the gateway needs both annotations or neither")
	}
	return out, lines, probs
}

func revisionFix(p mesh.RevisionPattern) string {
	return fmt.Sprintf("name revisions like %q (meshops.revisionPattern is %q)", p.Example(), p.String())
}
