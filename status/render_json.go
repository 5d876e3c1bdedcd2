package status

import (
	"encoding/json"
	"io"
)

// RenderJSON writes the report as indented JSON: Report's own fields and
// tags are the contract for scripts.
func RenderJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
