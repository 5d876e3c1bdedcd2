// Package mdcut cuts a Markdown document to a size limit the way a reader
// loses least: fenced code blocks (diffs) go first, last first, then the
// sections at its end, and <details> and code fences stay balanced. The
// plan's Markdown renderer and the pull-request comment both cut with it.
package mdcut
