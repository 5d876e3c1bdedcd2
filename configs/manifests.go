package configs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshops/meshops/mesh"
)

// Source is where a manifest came from.
type Source struct {
	// File is relative to the repo root, slash-separated.
	File string `json:"file"`
	// Document is the 0-based index of the document in the file.
	Document int `json:"document"`
	// Line is the line the document starts on (its --- separator, or 1).
	Line int `json:"line"`
	// Revision is the revision this copy was rendered for, when the
	// document is written once for all revisions with {{ .Revision }};
	// empty otherwise.
	Revision string `json:"revision,omitempty"`
}

// String renders the source as file:line, with the revision if any.
func (s Source) String() string {
	out := fmt.Sprintf("%s:%d", s.File, s.Line)
	if s.Revision != "" {
		out += " (revision " + s.Revision + ")"
	}
	return out
}

// line returns the line of a field of the manifest, or of its nearest
// existing parent, or of the document start. Only a ConfigMap keeps its
// whole tree; other manifests know the lines of their metadata fields.
func (m Manifest) line(path ...string) int {
	if m.tree != nil {
		if l := m.tree.lineAt(path...); l > 0 {
			return l
		}
		return m.Source.Line
	}
	l := m.lines
	var candidates []int // deepest first
	switch strings.Join(path, "/") {
	case "metadata/name":
		candidates = []int{l.name}
	case "metadata/namespace":
		candidates = []int{l.namespace}
	case "metadata/labels/" + mesh.RevisionLabel:
		candidates = []int{l.revLabel, l.labels}
	case "spec":
		candidates = []int{l.spec}
	}
	for _, c := range append(candidates, l.metadata, l.doc) {
		if c > 0 {
			return c
		}
	}
	return m.Source.Line
}

// metaLines are the lines of a manifest that validate's whole-repo rules
// point at; 0 where the field is absent.
type metaLines struct {
	doc, metadata, name, namespace, labels, revLabel, spec int
}

func metaLinesOf(t *node) metaLines {
	md := t.get("metadata")
	return metaLines{
		doc: t.line, metadata: t.keyLine("metadata"),
		name: md.keyLine("name"), namespace: md.keyLine("namespace"),
		labels: md.keyLine("labels"), revLabel: md.get("labels").keyLine(mesh.RevisionLabel),
		spec: t.keyLine("spec"),
	}
}

// loadManifests reads every *.yaml and *.yml below dir (relative to the
// repo), in sorted order, through the repo's jail. Hidden files and folders
// (".git", editor backups) are skipped. A missing folder is a problem,
// flagged by folderMissing; so is one the jail refuses. Once a limit of the
// load is crossed the files left are not read: they would be refused too.
func loadManifests(ctx context.Context, repo *repoFS, dir string, revisions []string) (ms []Manifest, probs Problems, folderMissing bool, err error) {
	info, err := repo.stat(dir)
	var ref *refusal
	switch {
	case errors.Is(err, fs.ErrNotExist):
		probs.add(dir, 0, "", "create the folder, or point manifests in meshops.yaml (or --manifests) at the folder holding them",
			"manifests folder not found")
		return nil, probs, true, nil
	case errors.As(err, &ref):
		return nil, Problems{ref.problem()}, true, nil
	case err != nil:
		return nil, nil, false, fmt.Errorf("manifests folder %s: %w", dir, err)
	case !info.IsDir():
		probs.add(dir, 0, "", "point manifests at a folder", "manifests must be a folder, not a file")
		return nil, probs, true, nil
	}
	files, err := repo.listYAML(dir)
	if errors.As(err, &ref) {
		return nil, Problems{ref.problem()}, true, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("list manifests in %s: %w", dir, err)
	}
	if workers := runtime.GOMAXPROCS(0); workers > 1 && len(files) > 1 && repo.budget.crossed() == nil {
		saved := repo.budget.save()
		ms, probs, err := parseFiles(ctx, repo, files, revisions, workers)
		if err != nil || repo.budget.crossed() == nil {
			return ms, probs, false, err
		}
		// A limit was crossed. Which file crossed it, and which files were
		// left unread, depends on the order the files were parsed in:
		// start again, one file after the other, so the problems say the
		// same whatever the machine.
		repo.budget.restore(saved)
	}
	ms, probs, err = parseFiles(ctx, repo, files, revisions, 1)
	return ms, probs, false, err
}

// parseFiles reads files in order and parses them on workers goroutines;
// the manifests and problems come out in file order. Once a limit of the
// load is crossed no more files are read.
func parseFiles(ctx context.Context, repo *repoFS, files []string, revisions []string, workers int) ([]Manifest, Problems, error) {
	type parsed struct {
		ms    []Manifest
		probs Problems
	}
	var (
		results = make([]parsed, len(files))
		jobs    = make(chan int, workers)
		data    = make([][]byte, len(files))
		wg      sync.WaitGroup
	)
	parse := func(i int) {
		results[i].ms, results[i].probs = parseManifestsWithin(repo.budget, files[i], data[i], revisions)
		data[i] = nil
	}
	if workers > 1 {
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					if repo.budget.crossed() == nil {
						parse(i)
					}
				}
			})
		}
	}
	var err error
	for i, file := range files {
		if err = ctx.Err(); err != nil {
			err = fmt.Errorf("load manifests: %w", err)
			break
		}
		if repo.budget.crossed() != nil {
			break
		}
		var ref *refusal
		data[i], err = repo.readFile(file)
		if errors.As(err, &ref) {
			results[i].probs, err = Problems{ref.problem()}, nil
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			// Listed a moment ago: a link that leads nowhere.
			results[i].probs, err = Problems{{File: file, Message: "refused: not found when read (a dangling link?)", Fix: fixOutside}}, nil
			continue
		}
		if err != nil {
			err = fmt.Errorf("read manifest: %w", err)
			break
		}
		if workers > 1 {
			jobs <- i
		} else {
			parse(i)
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	var (
		ms    []Manifest
		probs Problems
	)
	n := 0
	for _, r := range results {
		n += len(r.ms)
	}
	ms = make([]Manifest, 0, n)
	for _, r := range results {
		ms = append(ms, r.ms...)
		probs = append(probs, r.probs...)
	}
	return ms, probs, nil
}

// chunk is the text of one document, as separated by --- lines.
type chunk struct {
	line int // line of the first line of text in the file
	text string
}

// splitDocuments cuts a multi-document file at its --- lines. YAML treats a
// line starting with "---" and whitespace as a document start wherever it
// appears, so a line-based cut is exact, and it must happen before parsing
// because each document may be a template that is not valid YAML yet.
// Text before the first separator is kept only if it holds content; a
// directive (%YAML) goes with the document after it.
func splitDocuments(data string) []chunk {
	data = strings.TrimPrefix(data, "\ufeff")
	var (
		out     []chunk
		from    int // where the current chunk's text starts in data
		start   = 1
		content bool // the chunk has more than comments, blank lines and directives
		direct  bool // the chunk holds a directive
	)
	// A chunk is a run of whole lines, so its text is a slice of data,
	// not a copy.
	flush := func(to int) {
		if content {
			out = append(out, chunk{line: start, text: data[from:to]})
		}
		from = to
		content, direct = false, false
	}
	lineNo := 0
	for at := 0; at < len(data); {
		l := data[at:]
		if i := strings.IndexByte(l, '\n'); i >= 0 {
			l = l[:i+1]
		}
		lineStart := at
		at += len(l)
		lineNo++
		bare := strings.TrimRight(l, "\r\n")
		if bare == "---" || strings.HasPrefix(bare, "--- ") || strings.HasPrefix(bare, "---\t") {
			if direct && !content && len(out) == 0 {
				// Keep %YAML/%TAG with the document they introduce.
				content = true
				continue
			}
			flush(lineStart)
			start = lineNo
			content = true
			continue
		}
		switch t := strings.TrimSpace(bare); {
		case t == "" || strings.HasPrefix(t, "#"):
		case strings.HasPrefix(bare, "%") && !content:
			direct = true
		default:
			content = true
		}
	}
	flush(len(data))
	return out
}

// manifestData is what manifest templates see: only .Revision. The method
// records whether it was called, so a document that does not mention the
// revision is rendered once rather than once per revision.
type manifestData struct {
	rev  string
	used bool
}

// Revision is the revision the document is being rendered for.
func (d *manifestData) Revision() string {
	d.used = true
	return d.rev
}

// rendering is one rendered copy of a document.
type rendering struct {
	text     string
	revision string
}

// renderDocument renders a document written as a template. Documents without
// "{{" are used as written.
func renderDocument(b *budget, file string, c chunk, revisions []string) ([]rendering, *Problem) {
	if !strings.Contains(c.text, "{{") {
		return []rendering{{text: c.text}}, nil
	}
	tmpl, err := parseTemplate(b, file, c.text)
	if err != nil {
		te := newTemplateError(err, file, c.line-1)
		return nil, &Problem{File: file, Line: max(te.line, c.line), Message: "template does not parse: " + te.msg,
			Fix: `fix the template; a literal "{{" is written {{"{{"}}`}
	}
	exec := func(rev string) (string, bool, *Problem) {
		d := &manifestData{rev: rev}
		text, err := executeTemplate(b, tmpl, d)
		if le := limitOf(err); le != nil {
			p := limitProblem(file, c.line, le)
			return "", false, &p
		}
		if err != nil {
			te := newTemplateError(err, file, c.line-1)
			return "", false, &Problem{File: file, Line: max(te.line, c.line),
				Message: "template over a missing value: " + withoutGoType(cleanTemplateError(err)),
				Fix:     "manifest templates may use only {{ .Revision }}"}
		}
		return text, d.used, nil
	}
	probe := "REVISION"
	if len(revisions) > 0 {
		probe = revisions[0]
	}
	text, perRevision, p := exec(probe)
	if p != nil {
		return nil, p
	}
	if !perRevision {
		return []rendering{{text: text}}, nil
	}
	// Without usable versions a per-revision document cannot be rendered;
	// the versions problem is reported where versions are read.
	out := make([]rendering, 0, len(revisions))
	for _, rev := range revisions {
		text, _, p := exec(rev)
		if p != nil {
			return nil, p
		}
		out = append(out, rendering{text: text, revision: rev})
	}
	return out, nil
}

// parseManifests reads the documents of one manifest file. revisions are the
// names per-revision documents are rendered for.
func parseManifests(file string, data []byte, revisions []string) ([]Manifest, Problems) {
	return parseManifestsWithin(nil, file, data, revisions)
}

// parseManifestsWithin is parseManifests drawing on a load's budget (nil:
// a budget of its own). It stops at the first limit crossed, with a
// problem at the document that crossed it.
func parseManifestsWithin(b *budget, file string, data []byte, revisions []string) ([]Manifest, Problems) {
	if b == nil {
		b = newBudget(DefaultLimits())
	}
	var (
		out   []Manifest
		probs Problems
		index int
	)
	chunks := splitDocuments(string(data))
	if len(chunks) > b.limits.Documents {
		return nil, Problems{limitProblem(file, chunks[b.limits.Documents].line, &limitError{field: "Documents", limit: int64(b.limits.Documents),
			what: "YAML documents in one file", fix: "split the file"})}
	}
	for _, c := range chunks {
		renders, p := renderDocument(b, file, c, revisions)
		if p != nil {
			probs = append(probs, *p)
			if b.crossed() != nil {
				return out, probs
			}
			index++
			continue
		}
		docs := 1
		for _, r := range renders {
			ms, ps, n := decodeDocuments(b, file, c, r, index)
			out = append(out, ms...)
			probs = append(probs, ps...)
			docs = max(n, 1)
			if b.crossed() == nil {
				if err := b.addObjects(len(ms)); err != nil {
					probs = append(probs, limitProblem(file, c.line, err))
				}
			}
			if b.crossed() != nil {
				return out, probs
			}
		}
		index += docs
		if index > b.limits.Documents {
			probs = append(probs, limitProblem(file, c.line, &limitError{field: "Documents", limit: int64(b.limits.Documents),
				what: "YAML documents in one file", fix: "split the file"}))
			return out, probs
		}
	}
	return out, probs
}

// decodeDocuments parses the YAML of one rendered chunk (normally one
// document) and builds its manifests. It returns how many documents the
// chunk held.
func decodeDocuments(b *budget, file string, c chunk, r rendering, index int) ([]Manifest, Problems, int) {
	var (
		out   []Manifest
		probs Problems
		n     int
	)
	if le := b.document(len(r.text)); le != nil {
		return nil, Problems{limitProblem(file, c.line, le)}, 1
	}
	if len(r.text) > bigDocument {
		// The parser holds a whole document at once, a few hundred
		// bytes a value: two dense megabyte documents on two cores at
		// once would double the worst a load can hold.
		b.big.Lock()
		defer b.big.Unlock()
	} else if ms, ps, ok := quickDocument(b, file, c, r, index); ok {
		return ms, ps, 1
	}
	dec := yaml.NewDecoder(strings.NewReader(r.text))
	for ; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, probs, n
		}
		if err != nil {
			line, msg := yamlErrorLine(err)
			probs.add(file, c.line+max(line, 1)-1, "", "fix the YAML syntax", "document %d: not valid YAML: %s", index+n, msg)
			return out, probs, n + 1
		}
		t, err := newConverter(b, c.line-1, nil).convert(&doc)
		if err != nil {
			var pe *posError
			line, msg, fix := c.line, err.Error(), "fix the YAML"
			if errors.As(err, &pe) {
				line, msg, fix = pe.line, pe.msg, pe.fixOr(fix)
			}
			probs.add(file, line, "", fix, "document %d: %s", index+n, msg)
			if b.crossed() != nil {
				return out, probs, n + 1
			}
			continue
		}
		if t.isNull() {
			// Empty and comment-only documents are what Helm leaves
			// behind for disabled templates.
			continue
		}
		src := Source{File: file, Document: index + n, Line: c.line, Revision: r.revision}
		m, ps := buildManifest(src, t)
		probs = append(probs, ps...)
		if m != nil {
			out = append(out, *m)
		}
	}
}

// bigDocument is the size from which documents are decoded one at a
// time, across the load's goroutines, and by yaml.v3: a manifest is a
// few KB, and a document of 64 KiB is one in a thousand.
const bigDocument = 64 << 10

// quickDocument builds the manifest of a document quickParse reads; ok is
// false when it does not, or the document would cross the Values limit.
func quickDocument(b *budget, file string, c chunk, r rendering, index int) ([]Manifest, Problems, bool) {
	qp := quickParsers.Get().(*quickParser)
	t, values, ok := qp.parse(r.text, c.line-1, b.limits.Values-int(b.values.Load()))
	if !ok || !b.drawValues(values) {
		quickParsers.Put(qp)
		return nil, nil, false
	}
	src := Source{File: file, Document: index, Line: c.line, Revision: r.revision}
	m, ps := buildManifest(src, t)
	if m == nil || m.tree == nil {
		// Nothing holds the tree any more: its nodes can serve the
		// next document.
		quickParsers.Put(qp)
	}
	if m == nil {
		return nil, ps, true
	}
	return []Manifest{*m}, ps, true
}

// buildManifest checks the object skeleton (apiVersion, kind, metadata) and
// refuses kinds meshops does not manage. Rules that need the whole repo
// (namespaces, duplicates, default deny) are validate's.
func buildManifest(src Source, t *node) (*Manifest, Problems) {
	r := &fieldReader{file: src.File}
	doc := fmt.Sprintf("document %d: ", src.Document)
	if t.kind != mapNode {
		r.probs.add(src.File, t.line, "", "each document must be one Kubernetes object: apiVersion, kind, metadata, spec",
			"%sexpected a Kubernetes object (a mapping), got %s", doc, t.describe())
		return nil, r.probs
	}
	var apiVersion, kind string
	r.str(t.get("apiVersion"), "apiVersion", &apiVersion)
	r.str(t.get("kind"), "kind", &kind)
	if apiVersion == "" && t.get("apiVersion").isNull() {
		r.probs.add(src.File, t.lineAt("apiVersion"), "apiVersion", "add apiVersion, e.g. apiVersion: security.istio.io/v1",
			"%smissing apiVersion", doc)
	}
	if kind == "" && t.get("kind").isNull() {
		r.probs.add(src.File, t.lineAt("kind"), "kind", "add kind, e.g. kind: AuthorizationPolicy", "%smissing kind", doc)
	}
	if len(r.probs) > 0 {
		return nil, r.probs
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		r.probs.add(src.File, t.lineAt("apiVersion"), "apiVersion", "write apiVersion as group/version, e.g. security.istio.io/v1",
			"%s%v", doc, err)
		return nil, r.probs
	}
	mk := findKind(gv.Group, kind)
	if mk == nil {
		r.probs.add(src.File, t.lineAt("kind"), "kind", "meshops manages only "+managedKindList()+"; deploy other objects another way",
			"%skind %s (apiVersion %s) is not managed by meshops", doc, kind, apiVersion)
		return nil, r.probs
	}
	if !slices.Contains(mk.versions, gv.Version) {
		r.probs.add(src.File, t.lineAt("apiVersion"), "apiVersion", "use one of: "+groupVersions(mk),
			"%s%s does not serve %s at version %q", doc, groupOrCore(gv.Group), kind, gv.Version)
	}

	md := t.get("metadata")
	if md.isNull() {
		r.probs.add(src.File, t.lineAt("metadata"), "metadata", "add metadata with name and namespace", "%s%s has no metadata", doc, kind)
		return nil, r.probs
	}
	if md.kind != mapNode {
		r.wrongType(md, "metadata", "a mapping with name and namespace", "write metadata: {name: x, namespace: y}")
		return nil, r.probs
	}
	var name, ns string
	r.str(md.get("name"), "metadata.name", &name)
	r.str(md.get("namespace"), "metadata.namespace", &ns)
	switch {
	case md.get("name").isNull():
		r.probs.add(src.File, t.lineAt("metadata"), "metadata.name", "add metadata.name", "%s%s has no name", doc, kind)
	case md.get("name").scalar == "":
		r.probs.add(src.File, t.lineAt("metadata", "name"), "metadata.name", "give the object a name", "%s%s has an empty name", doc, kind)
	case name != "":
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			r.probs.add(src.File, t.lineAt("metadata", "name"), "metadata.name", "use lowercase letters, digits, '-' and '.'",
				"%q is not a valid name: %s", name, errs[0])
		}
	}
	checkStringMap(r, md, "labels", true)
	checkStringMap(r, md, "annotations", false)
	if len(r.probs) > 0 {
		return nil, r.probs
	}
	v, _ := t.value()
	obj, _ := v.(map[string]any)
	gk := schema.GroupKind{Group: gv.Group, Kind: kind}
	built, err := newManifest(obj, src)
	if err != nil {
		r.probs.add(src.File, t.line, "", "write numbers as finite decimals (.inf and .nan have no JSON form)", "%s%s %s: %v", doc, kind, name, err)
		return nil, r.probs
	}
	m := &built
	m.lines = metaLinesOf(t)
	// The schema check runs here, while the document's tree (and so every
	// line) is at hand: keeping trees for validate would cost a fleet's
	// 10,000 policies tens of MB.
	checkSchema(r, mk.schema, t)
	rules := &fieldReader{file: src.File}
	m.provider = checkPolicySpec(rules, gk, t.get("spec"))
	r.probs = append(r.probs, withoutSeen(rules.probs, r.probs)...)
	if gk == configMapGK {
		// A shared ConfigMap's mesh config is read by validate. Other
		// trees served only the checks above: a fleet's 10,000 policies
		// held 40 MB of them until validate ran.
		m.tree = t
	}
	return m, r.probs
}

// withoutSeen drops the problems of ps at a line and field that seen
// already reports: a rule that trips over a field the schema check already
// refused (a list written as a string) has nothing to add.
func withoutSeen(ps, seen Problems) Problems {
	var out Problems
	for _, p := range ps {
		if !slices.ContainsFunc(seen, func(s Problem) bool { return s.Line == p.Line && s.Field == p.Field }) {
			out = append(out, p)
		}
	}
	return out
}

// checkStringMap checks labels or annotations: a mapping of string to
// string, with valid keys (and valid values, for labels). `istio.io/rev: 1`
// would fail at the API server anyway; better to say so with a line number.
func checkStringMap(r *fieldReader, md *node, key string, isLabel bool) {
	n := md.get(key)
	field := "metadata." + key
	if n.isNull() {
		return
	}
	if n.kind != mapNode {
		r.wrongType(n, field, "a mapping of strings", "write "+field+" as key: \"value\" pairs")
		return
	}
	for _, e := range n.entries {
		f := field + "." + e.key
		if errs := validation.IsQualifiedName(e.key); len(errs) > 0 {
			r.probs.add(r.file, e.line, f, "use a key like example.com/name", "%q is not a valid key: %s", e.key, errs[0])
		}
		s, ok := e.val.scalar.(string)
		if !ok || e.val.kind != scalarNode {
			r.wrongType(e.val, f, "a string", "quote the value: "+e.key+": \"...\"")
			continue
		}
		if isLabel {
			if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
				r.probs.add(r.file, e.line, f, "use at most 63 letters, digits, '-', '_' or '.'", "%q is not a valid label value: %s", s, errs[0])
			}
		}
	}
}

func groupOrCore(g string) string {
	if g == "" {
		return "the core API"
	}
	return g
}

func groupVersions(k *managedKind) string {
	var out []string
	for _, v := range k.versions {
		out = append(out, schema.GroupVersion{Group: k.group, Version: v}.String())
	}
	return strings.Join(out, ", ")
}

// withoutGoType drops " in type *configs.manifestData" from a template
// error: the Go type means nothing to the person fixing the manifest.
func withoutGoType(msg string) string {
	if i := strings.Index(msg, " in type "); i >= 0 {
		return msg[:i]
	}
	return msg
}
