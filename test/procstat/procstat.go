// Package procstat reads a process's memory from Linux's /proc, for tests
// and benchmarks that run meshops as a process and state what it held.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's peak resident set (VmHWM) and, at the same read,
// the part backed by files (RssFile: the binary's own pages), in bytes.
type Memory struct{ Peak, File int64 }

// ReadStatus reads a process's name (comm) and Memory from its /proc
// status file (/proc/<pid>/status, /proc/self/status).
func ReadStatus(path string) (name string, m Memory, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", Memory{}, err
	}
	for line := range strings.Lines(string(data)) {
		key, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		val = strings.TrimSpace(val)
		kb := func() int64 {
			n, _ := strconv.ParseInt(strings.TrimSuffix(val, " kB"), 10, 64)
			return n << 10
		}
		switch key {
		case "Name":
			name = val
		case "VmHWM":
			m.Peak = kb()
		case "RssFile":
			m.File = kb()
		}
	}
	if m.Peak == 0 {
		return name, m, fmt.Errorf("no VmHWM in %s", path)
	}
	return name, m, nil
}
