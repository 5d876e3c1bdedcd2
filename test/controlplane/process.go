package controlplane

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one control-plane program started in its own session, so it
// outlives the `make cluster-up` that started it, with its PID recorded in
// the state folder: cluster-down stops exactly what cluster-up started.
type process struct {
	Name string
	Path string
	Args []string
	Env  []string
	Dir  string
}

func pidFile(stateDir, name string) string { return filepath.Join(stateDir, "run", name+".pid") }

// startOrder records the order processes were started in, so they stop in
// reverse: the API server before etcd, or its shutdown hangs on storage.
func startOrder(stateDir string) string    { return filepath.Join(stateDir, "run", "order") }
func logFile(stateDir, name string) string { return filepath.Join(stateDir, "logs", name+".log") }

func (p process) start(stateDir string) error {
	for _, d := range []string{filepath.Join(stateDir, "run"), filepath.Join(stateDir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(logFile(stateDir, p.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	pid := cmd.Process.Pid
	// Reap the child if it exits while we still run, so a crash shows as a
	// dead PID rather than a zombie that still answers signal 0.
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(pidFile(stateDir, p.Name), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(startOrder(stateDir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, p.Name)
	return err
}

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state is the field after the parenthesised command name.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// stopAll stops every process recorded in stateDir: SIGTERM first, SIGKILL
// after grace. It kills the whole session so helpers a program forked go too.
func stopAll(stateDir string, grace time.Duration) ([]string, error) {
	order, err := os.ReadFile(startOrder(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := strings.Fields(string(order))
	var stopped []string
	var errs []error
	for i := len(names) - 1; i >= 0; i-- {
		wasRunning, err := stop(stateDir, names[i], grace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if wasRunning {
			stopped = append(stopped, names[i])
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(startOrder(stateDir))
	}
	return stopped, errors.Join(errs...)
}

// freePort asks the kernel for an unused loopback port. Another program may
// take it before ours binds; the start-up wait then reports that clearly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop ends the recorded process name, SIGTERM then SIGKILL after grace,
// and removes its PID file. It reports whether the process was running.
func stop(stateDir, name string, grace time.Duration) (bool, error) {
	pid, err := readPID(stateDir, name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	wasRunning := alive(pid)
	if wasRunning {
		// The whole session, so helpers a program forked go too.
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			for i := 0; alive(pid) && i < 100; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if alive(pid) {
			return true, fmt.Errorf("%s (pid %d) did not stop", name, pid)
		}
	}
	return wasRunning, os.Remove(pidFile(stateDir, name))
}

// readPID reads the PID file of a recorded process.
func readPID(stateDir, name string) (int, error) {
	data, err := os.ReadFile(pidFile(stateDir, name))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s: bad pid file: %w", name, err)
	}
	return pid, nil
}

// running reports whether the recorded process name is alive.
func running(stateDir, name string) bool {
	pid, err := readPID(stateDir, name)
	return err == nil && alive(pid)
}
