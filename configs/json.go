package configs

import (
	"encoding/json"
	"slices"
	"strconv"
)

// appendJSON appends v as encoding/json's Marshal writes it: compact, map
// keys sorted, strings escaped as it escapes them (HTML characters too, as
// the API server's encoder does). Loading writes a fleet's 10,000
// manifests this way, where Marshal's reflection cost more than the parse.
// Anything but the plain values a manifest decodes to (maps, lists,
// strings, int64, booleans, null), and strings that need escaping, go to
// Marshal itself, so the output is Marshal's in every case.
func appendJSON(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case string:
		if plainJSONString(x) {
			buf = append(buf, '"')
			buf = append(buf, x...)
			return append(buf, '"'), nil
		}
	case []any:
		buf = append(buf, '[')
		for i, item := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, item); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, k); err != nil {
				return nil, err
			}
			buf = append(buf, ':')
			if buf, err = appendJSON(buf, x[k]); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(buf, out...), nil
}

// plainJSONString reports whether Marshal writes s between quotes as it
// is: printable ASCII without a quote, a backslash or an HTML character.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
