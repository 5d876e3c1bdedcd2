package configs

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Limits bound what one Load may read and build. The config repo is input
// from anyone who can push a branch (CI plans every pull request) or merge
// (meshops run applies it in the cluster, under a 512 MiB memory limit), so
// every dimension an input can blow up in has a bound, and Load refuses an
// input that crosses one with a problem naming the file and the limit.
// The defaults leave a 2,000-workload fleet's repo (500 files, 10,000
// policies, 3 MB, 300,000 values) room to grow two to five times, and keep
// the worst input within them under 300 MiB of memory: measured, a load
// costs about 7 KB per object and 70 bytes per value at its peak.
// docs/security.md lists them with the time and memory of each bomb.
//
// A zero field means its default, so Options{RepoPath: dir} is bounded too.
type Limits struct {
	// FileBytes bounds each file read: meshops.yaml, the values file and
	// every manifest file.
	FileBytes int64
	// TotalBytes bounds all files of one load together.
	TotalBytes int64
	// Entries bounds the files and folders below the manifests folder.
	Entries int
	// DocumentBytes bounds one YAML document (the values file and
	// meshops.yaml are one each; a manifest file holds many). The parser
	// holds a whole document at once, at about 300 bytes per value, so
	// this bounds the peak of a dense one; the API server takes no object
	// over 1.5 MiB anyway.
	DocumentBytes int
	// Documents bounds the YAML documents of one file.
	Documents int
	// Objects bounds the manifests of one load, each per-revision copy
	// counted.
	Objects int
	// Values bounds the YAML values (scalars, lists, mappings) of all
	// documents of one load, aliases expanded.
	Values int
	// AliasValues bounds the values reached through YAML aliases in all
	// documents and files of one load together: a limit per document
	// let 20 documents of 400 bytes reach 537 MB.
	AliasValues int
	// TemplateBytes bounds what the templates of one load produce (the
	// values file's and the manifests'), output and strings built by
	// print, printf, html, js and urlquery alike.
	TemplateBytes int64
	// TemplateSteps bounds the range iterations and template calls of all
	// templates of one load, so a loop that writes nothing stops too.
	TemplateSteps int
}

// Defaults of Limits; docs/security.md lists the same values (a test
// keeps them together).
const (
	DefaultFileBytes     = 4 << 20
	DefaultTotalBytes    = 16 << 20
	DefaultEntries       = 10_000
	DefaultDocumentBytes = 1 << 20
	DefaultDocuments     = 10_000
	DefaultObjects       = 25_000
	DefaultValues        = 2_000_000
	DefaultAliasValues   = 100_000
	DefaultTemplateBytes = 16 << 20
	DefaultTemplateSteps = 1_000_000
)

// DefaultLimits returns the limits Load applies unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		FileBytes: DefaultFileBytes, TotalBytes: DefaultTotalBytes, Entries: DefaultEntries,
		DocumentBytes: DefaultDocumentBytes, Documents: DefaultDocuments, Objects: DefaultObjects, Values: DefaultValues,
		AliasValues: DefaultAliasValues, TemplateBytes: DefaultTemplateBytes, TemplateSteps: DefaultTemplateSteps,
	}
}

// withDefaults fills the zero fields of l with the defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set64(&l.FileBytes, d.FileBytes)
	set64(&l.TotalBytes, d.TotalBytes)
	set(&l.Entries, d.Entries)
	set(&l.DocumentBytes, d.DocumentBytes)
	set(&l.Documents, d.Documents)
	set(&l.Objects, d.Objects)
	set(&l.Values, d.Values)
	set(&l.AliasValues, d.AliasValues)
	set64(&l.TemplateBytes, d.TemplateBytes)
	set(&l.TemplateSteps, d.TemplateSteps)
	return l
}

// budget is what is left of the limits in one load. Every reader and
// decoder of the load draws on the same budget, so that many small
// documents or files add up rather than each starting afresh. Manifest
// files are parsed on several goroutines at once, so the counters they
// draw on are atomic.
type budget struct {
	limits Limits

	// bytes is drawn on by reads, which happen on one goroutine.
	bytes         int64
	values        atomic.Int64
	aliasValues   atomic.Int64
	objects       atomic.Int64
	templateBytes atomic.Int64
	templateSteps atomic.Int64

	// spent is the first limit crossed; once set, Load reads no further
	// files, since whatever follows would be refused too.
	spent atomic.Pointer[limitError]

	// big is held while a document over bigDocument is decoded.
	big sync.Mutex
}

// budgetState is what a budget has drawn, to go back to.
type budgetState struct {
	bytes                                                      int64
	values, aliasValues, objects, templateBytes, templateSteps int64
	spent                                                      *limitError
}

func (b *budget) save() budgetState {
	return budgetState{bytes: b.bytes, values: b.values.Load(), aliasValues: b.aliasValues.Load(), objects: b.objects.Load(),
		templateBytes: b.templateBytes.Load(), templateSteps: b.templateSteps.Load(), spent: b.spent.Load()}
}

func (b *budget) restore(s budgetState) {
	b.bytes = s.bytes
	b.values.Store(s.values)
	b.aliasValues.Store(s.aliasValues)
	b.objects.Store(s.objects)
	b.templateBytes.Store(s.templateBytes)
	b.templateSteps.Store(s.templateSteps)
	b.spent.Store(s.spent)
}

// crossed returns the first limit crossed, or nil.
func (b *budget) crossed() *limitError { return b.spent.Load() }

func newBudget(l Limits) *budget { return &budget{limits: l.withDefaults()} }

// limitError is a crossed limit. It is an error so that it can travel
// through yaml and template callbacks; Load turns it into a Problem.
type limitError struct {
	// field is the Limits field, e.g. "AliasValues".
	field string
	limit int64
	// what says what crossed it, e.g. "values reached through YAML aliases".
	what string
	fix  string
}

func (e *limitError) Error() string {
	return fmt.Sprintf("more than %d %s (limit %s)", e.limit, e.what, e.field)
}

func (b *budget) fail(e *limitError) *limitError {
	b.spent.CompareAndSwap(nil, e)
	return e
}

// addValue counts one YAML value; alias says it was reached through an
// alias.
func (b *budget) addValue(alias bool) *limitError {
	if b.values.Add(1) > int64(b.limits.Values) {
		return b.fail(&limitError{field: "Values", limit: int64(b.limits.Values),
			what: "YAML values in the config repo", fix: "split the config or remove what meshops does not need"})
	}
	if alias {
		if b.aliasValues.Add(1) > int64(b.limits.AliasValues) {
			return b.fail(&limitError{field: "AliasValues", limit: int64(b.limits.AliasValues),
				what: "values reached through YAML aliases in the config repo, all files together (it expands to more than that: too many aliases?)",
				fix:  "write the values out instead of nesting aliases"})
		}
	}
	return nil
}

// addObjects counts manifests.
func (b *budget) addObjects(n int) *limitError {
	if b.objects.Add(int64(n)) > int64(b.limits.Objects) {
		return b.fail(&limitError{field: "Objects", limit: int64(b.limits.Objects),
			what: "objects in the manifests (per-revision copies counted)", fix: "manage fewer objects from one config repo"})
	}
	return nil
}

// addTemplateBytes counts what templates produce.
func (b *budget) addTemplateBytes(n int) *limitError {
	if b.templateBytes.Add(int64(n)) > b.limits.TemplateBytes {
		return b.fail(&limitError{field: "TemplateBytes", limit: b.limits.TemplateBytes,
			what: "bytes of template output in the config repo", fix: "make the template produce less (a range over a large number?)"})
	}
	return nil
}

// templateStep counts a range iteration or template call.
func (b *budget) templateStep() *limitError {
	if b.templateSteps.Add(1) > int64(b.limits.TemplateSteps) {
		return b.fail(&limitError{field: "TemplateSteps", limit: int64(b.limits.TemplateSteps),
			what: "template steps (range iterations and template calls) in the config repo", fix: "make the template loop less (a range over a large number?)"})
	}
	return nil
}

// document refuses a YAML document over DocumentBytes.
func (b *budget) document(n int) *limitError {
	if n > b.limits.DocumentBytes {
		return &limitError{field: "DocumentBytes", limit: int64(b.limits.DocumentBytes),
			what: "bytes in one YAML document", fix: "split the document; the API server takes no object over 1.5 MiB anyway"}
	}
	return nil
}

// limitProblem reports a crossed limit at a place in the repo.
func limitProblem(file string, line int, e *limitError) Problem {
	return Problem{File: file, Line: line, Message: "refused: " + e.Error(), Fix: e.fix}
}

// drawValues counts n values at once when they fit within Values, and
// reports whether they did; a document that would cross the limit is left
// to the converter, which says where it crossed.
func (b *budget) drawValues(n int) bool {
	if b.values.Add(int64(n)) > int64(b.limits.Values) {
		b.values.Add(-int64(n))
		return false
	}
	return true
}
