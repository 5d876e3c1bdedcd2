package status

import (
	"encoding/json"
	"io"
)

// RenderJSON writes the report as indented JSON: Report's own fields and
// tags are the contract for scripts. Like kubectl's, it leaves <, > and &
// as they are: it is read in terminals and by parsers, not put in pages.
func RenderJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// RenderJSONLine writes the report as one line of JSON, the same document
// as RenderJSON: a stream of reports is NDJSON (status --watch -o json).
func RenderJSONLine(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
