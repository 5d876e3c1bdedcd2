// Package binaries locates and builds the control-plane programs that
// meshops' tests and local cluster run: kube-apiserver, etcd and friends.
//
// Nothing can be downloaded as a binary on the machines this project runs on,
// so each program is built from the Go module proxy in a small module of its
// own under hack/tools/<module>, whose go.mod pins the version. Binaries are
// cached outside the checkout by that version, so a second `make test`, a
// fresh clone and CI on the same machine reuse them.
package binaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// CacheDirEnv overrides where built binaries are cached.
const CacheDirEnv = "MESHOPS_CACHE_DIR"

// Tool is one program built from a pinned module.
type Tool struct {
	// Name is the binary's file name.
	Name string
	// ToolModule is the folder, relative to the repository root, of the small
	// module that pins the program's source.
	ToolModule string
	// Module is the upstream module whose version names the cache entry.
	Module string
	// Package is the import path of the main package.
	Package string
	// LDFlags returns the linker flags for the given module version.
	LDFlags func(version string) string
}

// kubeLDFlags stamps the real version into Kubernetes binaries: without it
// /version reports v0.0.0-master and kubectl and istiod cannot parse it.
func kubeLDFlags(version string) string {
	major, minor := "", ""
	if parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	return strings.Join([]string{
		"-X k8s.io/component-base/version.gitVersion=" + version,
		"-X k8s.io/component-base/version.gitMajor=" + major,
		"-X k8s.io/component-base/version.gitMinor=" + minor,
		"-X k8s.io/component-base/version.gitTreeState=clean",
	}, " ")
}

var (
	KubeAPIServer = Tool{
		Name: "kube-apiserver", ToolModule: "hack/tools/kube", Module: "k8s.io/kubernetes",
		Package: "./kube-apiserver", LDFlags: kubeLDFlags,
	}
	KubeControllerManager = Tool{
		Name: "kube-controller-manager", ToolModule: "hack/tools/kube", Module: "k8s.io/kubernetes",
		Package: "./kube-controller-manager", LDFlags: kubeLDFlags,
	}
	KubeScheduler = Tool{
		Name: "kube-scheduler", ToolModule: "hack/tools/kube", Module: "k8s.io/kubernetes",
		Package: "./kube-scheduler", LDFlags: kubeLDFlags,
	}
	Etcd = Tool{
		Name: "etcd", ToolModule: "hack/tools/etcd", Module: "go.etcd.io/etcd/server/v3",
		Package: "go.etcd.io/etcd/server/v3",
	}
	Kwok = Tool{
		Name: "kwok", ToolModule: "hack/tools/kwok", Module: "sigs.k8s.io/kwok",
		Package: "sigs.k8s.io/kwok/cmd/kwok",
	}
	// Istiod is pilot-discovery; one binary serves every local revision, each
	// process told its revision by environment.
	Istiod = Tool{
		Name: "pilot-discovery", ToolModule: "hack/tools/istio", Module: "istio.io/istio",
		Package: "istio.io/istio/pilot/cmd/pilot-discovery",
	}
	// Istioctl renders each local revision's install from Istio's own charts
	// and is the tests' oracle for the tag webhook. meshops never runs it.
	Istioctl = Tool{
		Name: "istioctl", ToolModule: "hack/tools/istio", Module: "istio.io/istio",
		Package: "istio.io/istio/istioctl/cmd/istioctl",
	}
)

// ByName maps binary names to tools, for the command line.
var ByName = map[string]Tool{}

func init() {
	for _, t := range []Tool{KubeAPIServer, KubeControllerManager, KubeScheduler, Etcd, Kwok, Istiod, Istioctl} {
		ByName[t.Name] = t
	}
}

// CacheDir is where binaries are kept: $MESHOPS_CACHE_DIR, else
// $XDG_CACHE_HOME/meshops, else ~/.cache/meshops.
func CacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set %s: %w", CacheDirEnv, err)
	}
	return filepath.Join(base, "meshops"), nil
}

// RepoRoot finds the meshops checkout by walking up from the working
// directory to the go.mod of github.com/meshops/meshops, so tests in any
// package and the dev commands agree on where hack/ is.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modfile.ModulePath(data) == "github.com/meshops/meshops" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the meshops repository (no go.mod of github.com/meshops/meshops above the working directory)")
		}
		dir = parent
	}
}

// ModuleVersion reads the version of module that the tool module at dir
// (relative to the repository root) pins in its go.mod.
func ModuleVersion(toolModule, module string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	gomod := filepath.Join(root, toolModule, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	f, err := modfile.ParseLax(gomod, data, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", gomod, err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == module {
			return r.Mod.Version, nil
		}
	}
	return "", fmt.Errorf("%s: no requirement on %s", gomod, module)
}

// Version is the pinned version of the tool's upstream module.
func (t Tool) Version() (string, error) { return ModuleVersion(t.ToolModule, t.Module) }

// CachedPath is where the binary lives once built; it may not exist yet.
func (t Tool) CachedPath() (string, error) {
	version, err := t.Version()
	if err != nil {
		return "", err
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "bin", t.Name, version, t.Name), nil
}

// Path returns the cached binary, or an error saying how to build it: tests
// never start a multi-minute build behind the back of `go test`'s timeout.
func (t Tool) Path() (string, error) {
	p, err := t.CachedPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not built (%s missing): run `make tools` first", t.Name, p)
	}
	return p, nil
}

// Build compiles the binary into the cache unless it is there already, and
// returns its path. Progress goes to log.
func (t Tool) Build(ctx context.Context, log io.Writer) (string, error) {
	p, err := t.CachedPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	version, _ := t.Version()
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	// Build to a temporary name and rename, so an interrupted build never
	// leaves a truncated binary that later runs would take as cached.
	tmp := p + ".tmp"
	args := []string{"build", "-o", tmp}
	if t.LDFlags != nil {
		args = append(args, "-ldflags", t.LDFlags(version))
	}
	args = append(args, t.Package)
	fmt.Fprintf(log, "building %s %s from %s (once; cached in %s)\n", t.Name, version, t.ToolModule, filepath.Dir(p))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(root, t.ToolModule)
	cmd.Stdout, cmd.Stderr = log, log
	// The tool modules are pinned by their own go.mod and go.sum; a go.work
	// of the caller's must not re-resolve them.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("building %s %s: %w", t.Name, version, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", err
	}
	return p, nil
}

// EnvtestAssets returns a folder laid out as controller-runtime's envtest
// expects KUBEBUILDER_ASSETS (kube-apiserver and etcd side by side), made of
// links to the cached binaries.
func EnvtestAssets() (string, error) {
	apiserver, err := KubeAPIServer.Path()
	if err != nil {
		return "", err
	}
	etcd, err := Etcd.Path()
	if err != nil {
		return "", err
	}
	kv, _ := KubeAPIServer.Version()
	ev, _ := Etcd.Version()
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "envtest", "kubernetes-"+kv+"_etcd-"+ev)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, target := range map[string]string{"kube-apiserver": apiserver, "etcd": etcd} {
		link := filepath.Join(dir, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// ModuleDir returns the module cache folder of module at the version the
// tool module pins, downloading it through the module proxy if needed.
func ModuleDir(ctx context.Context, toolModule, module string) (string, error) {
	version, err := ModuleVersion(toolModule, module)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", module, version, err, stderr.String())
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return info.Dir, nil
}

// BuildMeshops builds the meshops binary of this checkout into a new
// temporary folder, for tests that run it as a process; remove deletes
// the folder (call it also on error).
func BuildMeshops() (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "meshops-bin-")
	if err != nil {
		return "", func() {}, err
	}
	remove = func() { _ = os.RemoveAll(dir) }
	root, err := RepoRoot()
	if err != nil {
		return "", remove, err
	}
	bin = filepath.Join(dir, "meshops")
	build := exec.Command("go", "build", "-o", bin, "./cmd/meshops")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", remove, fmt.Errorf("building meshops: %w\n%s", err, out)
	}
	return bin, remove, nil
}
