package configs

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// plantedSecret is written only into files outside the repo under test: no
// message may ever carry it.
const plantedSecret = "MESHOPS-PLANTED-SECRET-7f3a9c"

// hostile is a repo built from goodRepo by an attacker, and what Load must
// say about it.
type hostile struct {
	name string
	// files replace files of goodRepo ("" deletes one).
	files map[string]string
	// build changes the repo further (links, pipes, big files); outside
	// is a folder next to it holding planted secrets.
	build func(t *testing.T, repo, outside string)
	// opts changes the options (overrides, limits).
	opts func(o *Options, outside string)
	// want are substrings the error must hold: the file and the rule.
	want []string
}

// outsideFiles are planted next to every hostile repo: a values file, a
// meshops.yaml and a manifests folder that would each load cleanly, all
// carrying the secret.
var outsideFiles = map[string]string{
	"secret.yaml":  "svc:\n  istio:\n    versions: asm-1-29\n    tag: prod-stable\n    token: " + plantedSecret + "\n",
	"meshops.yaml": "values: " + plantedSecret + ".yaml\n",
	"mesh/policy.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + strings.ToLower(plantedSecret) +
		", namespace: app}\nspec: {}\n",
	"token": plantedSecret + "\n",
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(link)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func fifo(t *testing.T, path string) {
	t.Helper()
	_ = os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// aliasDoc is one document whose aliases expand to about 10^depth values
// from a few hundred bytes.
func aliasDoc(depth int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// policies returns n small AuthorizationPolicy documents in namespace app.
func policies(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: %s-%d, namespace: app}\nspec:\n  selector: {matchLabels: {app: api}}\n  rules: [{from: [{source: {principals: [cluster.local/ns/web/sa/frontend]}}]}]\n", prefix, i)
	}
	return b.String()
}

func hostileRepos() []hostile {
	settings := func(extra string) map[string]string {
		return map[string]string{"meshops.yaml": "cloud: dev\nenvironment: dev\n" + extra + "meshops:\n  namespaces: [app]\n"}
	}
	const outsidePath = "/OUTSIDE" // replaced by the outside folder's path
	return []hostile{
		// Paths that leave the repo, in meshops.yaml and in the options.
		{name: "values climbing to /etc/passwd", files: settings("values: ../../../../../../etc/passwd\n"),
			want: []string{"meshops.yaml:3: values: refused", "not a path inside the config repo"}},
		{name: "values as an absolute path", files: settings("values: /etc/passwd\n"),
			want: []string{"meshops.yaml:3: values: refused"}},
		{name: "values at a planted secret, absolute", files: settings("values: " + outsidePath + "/secret.yaml\n"),
			want: []string{"meshops.yaml:3: values: refused"}},
		{name: "values at the mounted webhook token", files: settings("values: " + outsidePath + "/token\n"),
			want: []string{"meshops.yaml:3: values: refused"}},
		{name: "values climbing out after a folder", files: settings("values: config/../../outside/secret.yaml\n"),
			want: []string{"meshops.yaml:3: values: refused"}},
		{name: "manifests climbing to a folder next to the repo", files: settings("manifests: ../outside/mesh\n"),
			want: []string{"meshops.yaml:3: manifests: refused"}},
		{name: "manifests as an absolute path", files: settings("manifests: " + outsidePath + "/mesh\n"),
			want: []string{"meshops.yaml:3: manifests: refused"}},
		{name: "manifests climbing out after a folder", files: settings("manifests: mesh/../../outside/mesh\n"),
			want: []string{"meshops.yaml:3: manifests: refused"}},
		{name: "--values climbing out", opts: func(o *Options, out string) { o.Values = "../outside/secret.yaml" },
			want: []string{"values: refused", "the caller's options"}},
		{name: "--values at an absolute secret", opts: func(o *Options, out string) { o.Values = filepath.Join(out, "secret.yaml") },
			want: []string{"values: refused"}},
		{name: "--manifests absolute", opts: func(o *Options, out string) { o.Manifests = filepath.Join(out, "mesh") },
			want: []string{"manifests: refused"}},

		// Symbolic links out of the repo, and special files.
		{name: "manifest linked to /etc/passwd", build: func(t *testing.T, repo, out string) {
			symlink(t, "/etc/passwd", filepath.Join(repo, "mesh", "x.yaml"))
		}, want: []string{"mesh/x.yaml: refused: leads outside the config repo"}},
		{name: "manifest linked to /dev/zero", build: func(t *testing.T, repo, out string) {
			symlink(t, "/dev/zero", filepath.Join(repo, "mesh", "zero.yaml"))
		}, want: []string{"mesh/zero.yaml: refused: leads outside the config repo"}},
		{name: "manifest linked to a planted secret by an absolute link", build: func(t *testing.T, repo, out string) {
			symlink(t, filepath.Join(out, "mesh", "policy.yaml"), filepath.Join(repo, "mesh", "x.yaml"))
		}, want: []string{"mesh/x.yaml: refused: leads outside the config repo"}},
		{name: "manifest linked to a planted secret by a relative link", build: func(t *testing.T, repo, out string) {
			symlink(t, "../../outside/mesh/policy.yaml", filepath.Join(repo, "mesh", "x.yaml"))
		}, want: []string{"mesh/x.yaml: refused: leads outside the config repo"}},
		{name: "values file linked to /etc/passwd", build: func(t *testing.T, repo, out string) {
			symlink(t, "/etc/passwd", filepath.Join(repo, "config", "config.yaml"))
		}, want: []string{"config/config.yaml: refused: leads outside the config repo"}},
		{name: "values folder linked outside", build: func(t *testing.T, repo, out string) {
			os.RemoveAll(filepath.Join(repo, "config"))
			symlink(t, out, filepath.Join(repo, "config"))
			os.WriteFile(filepath.Join(out, "config.yaml"), []byte(outsideFiles["secret.yaml"]), 0o644)
		}, want: []string{"config/config.yaml: refused: leads outside the config repo"}},
		{name: "meshops.yaml linked to a planted one", build: func(t *testing.T, repo, out string) {
			symlink(t, filepath.Join(out, "meshops.yaml"), filepath.Join(repo, "meshops.yaml"))
		}, want: []string{"meshops.yaml: refused: leads outside the config repo"}},
		{name: "manifests folder linked outside", build: func(t *testing.T, repo, out string) {
			os.RemoveAll(filepath.Join(repo, "mesh"))
			symlink(t, filepath.Join(out, "mesh"), filepath.Join(repo, "mesh"))
		}, want: []string{"mesh: refused: leads outside the config repo"}},
		{name: "a folder named like a manifest, linked outside", build: func(t *testing.T, repo, out string) {
			symlink(t, filepath.Join(out, "mesh"), filepath.Join(repo, "mesh", "evil.yaml"))
		}, want: []string{"mesh/evil.yaml: refused: leads outside the config repo"}},
		{name: "a loop of links", build: func(t *testing.T, repo, out string) {
			symlink(t, "b.yaml", filepath.Join(repo, "mesh", "a.yaml"))
			symlink(t, "a.yaml", filepath.Join(repo, "mesh", "b.yaml"))
		}, want: []string{"mesh/a.yaml: refused: a loop of symbolic links", "mesh/b.yaml: refused: a loop of symbolic links"}},
		{name: "a dangling link", build: func(t *testing.T, repo, out string) {
			symlink(t, "nothing.yaml", filepath.Join(repo, "mesh", "x.yaml"))
		}, want: []string{"mesh/x.yaml: refused: a symbolic link to nothing inside the config repo"}},
		{name: "a link to /proc/self/environ", build: func(t *testing.T, repo, out string) {
			symlink(t, "/proc/self/environ", filepath.Join(repo, "mesh", "env.yaml"))
		}, want: []string{"mesh/env.yaml: refused: leads outside the config repo"}},
		{name: "a named pipe as a manifest", build: func(t *testing.T, repo, out string) {
			fifo(t, filepath.Join(repo, "mesh", "x.yaml"))
		}, want: []string{"mesh/x.yaml: refused: a named pipe (FIFO), not a regular file"}},
		{name: "a named pipe as the values file", build: func(t *testing.T, repo, out string) {
			fifo(t, filepath.Join(repo, "config", "config.yaml"))
		}, want: []string{"config/config.yaml: refused: a named pipe (FIFO), not a regular file"}},
		{name: "a named pipe as meshops.yaml", build: func(t *testing.T, repo, out string) {
			fifo(t, filepath.Join(repo, "meshops.yaml"))
		}, want: []string{"meshops.yaml: refused: a named pipe (FIFO), not a regular file"}},
		{name: "a link inside the repo to a named pipe", build: func(t *testing.T, repo, out string) {
			fifo(t, filepath.Join(repo, "pipe"))
			symlink(t, "../pipe", filepath.Join(repo, "mesh", "x.yaml"))
		}, want: []string{"mesh/x.yaml: refused: a named pipe (FIFO), not a regular file"}},
		{name: "a socket as a manifest", build: func(t *testing.T, repo, out string) {
			l, err := net.Listen("unix", filepath.Join(repo, "mesh", "s.yaml"))
			if err != nil {
				t.Skipf("unix socket: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}, want: []string{"mesh/s.yaml: refused: a socket, not a regular file"}},
		{name: "a device node as a manifest", build: func(t *testing.T, repo, out string) {
			// A copy of /dev/zero (char 1:5) inside the repo; only root may
			// make one, as only root can have git check one out.
			if err := syscall.Mknod(filepath.Join(repo, "mesh", "zero.yaml"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
				t.Skipf("mknod: %v", err)
			}
		}, want: []string{"mesh/zero.yaml: refused: a device, not a regular file"}},
		{name: "meshops.yaml as a folder", build: func(t *testing.T, repo, out string) {
			os.Remove(filepath.Join(repo, "meshops.yaml"))
			os.Mkdir(filepath.Join(repo, "meshops.yaml"), 0o755)
		}, want: []string{"meshops.yaml: refused: a folder, not a regular file"}},

		// Bombs: aliases across documents and files, documents, templates,
		// bytes, entries.
		{name: "alias bomb in one document", files: map[string]string{"mesh/bomb.yaml": aliasDoc(9)},
			want: []string{"mesh/bomb.yaml:", "refused: more than 100000 values reached through YAML aliases", "AliasValues"}},
		{name: "alias bombs spread over 20 documents", files: map[string]string{"mesh/bomb.yaml": strings.Repeat("---\n"+aliasDoc(4), 20)},
			want: []string{"mesh/bomb.yaml:", "(limit AliasValues)"}},
		{name: "alias bombs spread over 20 files", files: func() map[string]string {
			m := map[string]string{}
			for i := range 20 {
				m[fmt.Sprintf("mesh/bomb-%02d.yaml", i)] = aliasDoc(4)
			}
			return m
		}(), want: []string{"mesh/bomb-07.yaml:2: document 0: refused", "(limit AliasValues)"}},
		{name: "alias bomb in the values", files: map[string]string{"config/config.yaml": values("      versions: asm-1-29\n      tag: prod-stable\n") + "bomb:\n" + indent(aliasDoc(9))},
			want: []string{"config/config.yaml:", "(limit AliasValues)"}},
		{name: "alias bomb in meshops.yaml", files: map[string]string{"meshops.yaml": "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app]\n  restart:\n" + indent(indent(aliasDoc(9)))},
			want: []string{"meshops.yaml:", "(limit AliasValues)"}},
		{name: "too many documents", files: map[string]string{"mesh/many.yaml": strings.Repeat("---\na: 1\n", DefaultDocuments+1)},
			want: []string{"mesh/many.yaml:", "more than 10000 YAML documents in one file (limit Documents)"}},
		{name: "a range over two billion in the values", files: map[string]string{"config/config.yaml": "{{ range 2000000000 }}# padding padding padding padding padding padding padding padding\n{{ end }}" + values("      versions: asm-1-29\n      tag: prod-stable\n")},
			want: []string{"config/config.yaml: refused: more than " + itoa(DefaultTemplateBytes) + " bytes of template output", "(limit TemplateBytes)"}},
		{name: "an empty range over two billion in the values", files: map[string]string{"config/config.yaml": "{{ range 2000000000 }}{{ end }}" + values("      versions: asm-1-29\n      tag: prod-stable\n")},
			want: []string{"config/config.yaml: refused: more than 1000000 template steps", "(limit TemplateSteps)"}},
		{name: "a string doubled in a loop", files: map[string]string{"config/config.yaml": "{{ $x := \"abcdefgh\" }}{{ range 60 }}{{ $x = print $x $x }}{{ end }}" + values("      versions: asm-1-29\n      tag: prod-stable\n")},
			want: []string{"config/config.yaml: refused", "(limit TemplateBytes)"}},
		{name: "printf widths in a loop", files: map[string]string{"config/config.yaml": "{{ range 1000 }}{{ $x := printf \"%999999d%999999d\" 1 2 }}{{ end }}" + values("      versions: asm-1-29\n      tag: prod-stable\n")},
			want: []string{"config/config.yaml: refused", "(limit TemplateBytes)"}},
		{name: "a template that calls itself twice", files: map[string]string{"config/config.yaml": "{{ define \"a\" }}{{ template \"a\" . }}{{ template \"a\" . }}{{ end }}{{ template \"a\" . }}" + values("      versions: asm-1-29\n      tag: prod-stable\n")},
			want: []string{"config/config.yaml: values template does not parse: refused: templates call each other more deeply"}},
		{name: "a range over two billion in a manifest", files: map[string]string{"mesh/loop.yaml": "{{ range 2000000000 }}# {{ $.Revision }} padding padding padding padding padding\n{{ end }}"},
			want: []string{"mesh/loop.yaml:1: refused: more than " + itoa(DefaultTemplateBytes) + " bytes of template output", "(limit TemplateBytes)"}},
		{name: "a manifest over the size of a file", build: func(t *testing.T, repo, out string) {
			writeBig(t, filepath.Join(repo, "mesh", "big.yaml"), DefaultFileBytes+1)
		}, want: []string{"mesh/big.yaml: refused: larger than " + itoa(DefaultFileBytes) + " bytes (limit FileBytes)"}},
		{name: "50 MB of policies", build: func(t *testing.T, repo, out string) {
			for i := range 13 {
				writeBig(t, filepath.Join(repo, "mesh", fmt.Sprintf("p%02d.yaml", i)), DefaultFileBytes-1024)
			}
		}, want: []string{"refused: more than " + itoa(DefaultTotalBytes) + " bytes in the files of the config repo, all together (limit TotalBytes)"}},
		{name: "too many files", build: func(t *testing.T, repo, out string) {
			dir := filepath.Join(repo, "mesh", "many")
			os.MkdirAll(dir, 0o755)
			for i := range DefaultEntries + 1 {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.txt", i)), nil, 0o644)
			}
		}, want: []string{"mesh: refused: more than 10000 files and folders below the manifests folder (limit Entries)"}},
		{name: "more objects than the limit", files: map[string]string{"mesh/many.yaml": policies("p", 30)},
			opts: func(o *Options, _ string) { o.Limits.Objects = 20 },
			want: []string{"mesh/many.yaml:", "more than 20 objects in the manifests (per-revision copies counted) (limit Objects)"}},
		{name: "more values than the limit", files: map[string]string{"mesh/many.yaml": "a: [" + strings.Repeat("1,", 5000) + "1]\n"},
			opts: func(o *Options, _ string) { o.Limits.Values = 1000 },
			want: []string{"mesh/many.yaml:1:", "more than 1000 YAML values in the config repo (limit Values)"}},

		// What the repo must not override or weaken.
		{name: "the injector config of a revision", files: map[string]string{"mesh/evil.yaml": configMap("istio-sidecar-injector-asm-1-29", "")},
			want: []string{"mesh/evil.yaml:4: metadata.name: refused: ConfigMap/aks-istio-system/istio-sidecar-injector-asm-1-29 is the control plane's own"}},
		{name: "the mesh config of a revision", files: map[string]string{"mesh/evil.yaml": configMap("istio-asm-1-28", "")},
			want: []string{"mesh/evil.yaml:4: metadata.name: refused: ConfigMap/aks-istio-system/istio-asm-1-28 is the control plane's own"}},
		{name: "the values of a revision", files: map[string]string{"mesh/evil.yaml": configMap("values-asm-1-29", "")},
			want: []string{"mesh/evil.yaml:4: metadata.name: refused: ConfigMap/aks-istio-system/values-asm-1-29 is the control plane's own"}},
		{name: "a ConfigMap labelled as istiod's", files: map[string]string{"mesh/evil.yaml": configMap("harmless", "  labels: {app: istiod}\n")},
			want: []string{"mesh/evil.yaml:4: metadata.name: refused: ConfigMap/aks-istio-system/harmless is the control plane's own: labelled app"}},
		{name: "ALLOW-all in the root namespace", files: map[string]string{"mesh/evil.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-all, namespace: aks-istio-system}\nspec:\n  action: ALLOW\n  rules: [{}]\n"},
			want: []string{"mesh/evil.yaml:4: spec.rules: refused: AuthorizationPolicy/aks-istio-system/allow-all allows every request"}},
		{name: "ALLOW from any principal in the root namespace", files: map[string]string{"mesh/evil.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: any, namespace: aks-istio-system}\nspec:\n  rules:\n  - from: [{source: {principals: ['*']}}]\n"},
			want: []string{"mesh/evil.yaml:4: spec.rules: refused: AuthorizationPolicy/aks-istio-system/any allows every request"}},
		{name: "mTLS DISABLE in the root namespace", files: map[string]string{"mesh/istio.yaml": strings.Replace(goodRepo["mesh/istio.yaml"], "mode: STRICT", "mode: DISABLE", 1)},
			want: []string{"mesh/istio.yaml:19: spec.mtls.mode: refused: PeerAuthentication/aks-istio-system/default sets mTLS DISABLE in the root namespace"}},
		{name: "mTLS PERMISSIVE in the root namespace", files: map[string]string{"mesh/istio.yaml": strings.Replace(goodRepo["mesh/istio.yaml"], "mode: STRICT", "mode: PERMISSIVE", 1)},
			want: []string{"sets mTLS PERMISSIVE in the root namespace"}},
		{name: "an exemption without a reason", files: map[string]string{
			"mesh/istio.yaml": strings.Replace(goodRepo["mesh/istio.yaml"], "mode: STRICT", "mode: DISABLE", 1),
			"meshops.yaml":    "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app]\n  postureExemptions:\n  - object: PeerAuthentication/aks-istio-system/default\n",
		}, want: []string{"meshops.yaml:6: meshops.postureExemptions[0].reason: a posture exemption needs a reason", "sets mTLS DISABLE"}},
		{name: "kube-system for injection", files: map[string]string{"meshops.yaml": "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app, kube-system]\n"},
			want: []string{"meshops.yaml:4: meshops.namespaces[1]: refused: kube-system is a system namespace"}},
		{name: "kube-system for injection through the options", opts: func(o *Options, _ string) {
			o.Override = func(s *Settings) { s.Extensions.Namespaces = []string{"app", "kube-system"} }
		}, want: []string{"meshops.namespaces[1]: refused: kube-system is a system namespace"}},
		{name: "the Istio system namespace for injection", files: map[string]string{"meshops.yaml": "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app, aks-istio-system]\n"},
			want: []string{"meshops.yaml:4: meshops.namespaces[1]: refused: aks-istio-system is a system namespace"}},
		{name: "kube-public and kube-node-lease for injection", files: map[string]string{"meshops.yaml": "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces:\n  - app\n  - kube-public\n  - kube-node-lease\n"},
			want: []string{"meshops.yaml:6: meshops.namespaces[1]: refused: kube-public", "meshops.yaml:7: meshops.namespaces[2]: refused: kube-node-lease"}},
	}
}

// configMap is a ConfigMap in the Istio system namespace, its name on line 4.
func configMap(name, more string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: aks-istio-system\n" + more + "data: {a: b}\n"
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// writeBig writes a manifest file of n bytes: policies, padded.
func writeBig(t *testing.T, path string, n int) {
	t.Helper()
	doc := policies(filepath.Base(path[:len(path)-5]), 1)
	data := []byte(strings.Repeat("#"+strings.Repeat(" ", 78)+"\n", n/80) + doc)
	if err := os.WriteFile(path, data[:min(len(data), n)], 0o644); err != nil {
		t.Fatal(err)
	}
	if len(data) < n {
		if err := os.WriteFile(path, append(data, make([]byte, n-len(data))...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileReposAreRefused loads each hostile repo: every one must be
// refused with a message naming the file and the rule, and no message may
// carry the planted secret or a byte of the files outside the repo.
func TestHostileReposAreRefused(t *testing.T) {
	passwd, _ := os.ReadFile("/etc/passwd")
	firstPasswdLine, _, _ := strings.Cut(string(passwd), "\n")
	for _, tc := range hostileRepos() {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			repo, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
			files := maps.Clone(goodRepo)
			for name, content := range tc.files {
				if content == "" {
					delete(files, name)
				} else {
					files[name] = strings.ReplaceAll(content, "/OUTSIDE", outside)
				}
			}
			writeInto(t, repo, files)
			writeInto(t, outside, outsideFiles)
			if tc.build != nil {
				tc.build(t, repo, outside)
			}
			opts := DefaultOptions()
			opts.RepoPath = repo
			if tc.opts != nil {
				tc.opts(&opts, outside)
			}
			_, err := Load(context.Background(), opts)
			if err == nil {
				t.Fatal("loaded without a problem")
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q:\n%s", w, msg)
				}
			}
			for _, leak := range []string{plantedSecret, strings.ToLower(plantedSecret), "root:x:0:0", firstPasswdLine, "PATH="} {
				if leak != "" && strings.Contains(msg, leak) {
					t.Errorf("the error carries %q from outside the repo:\n%s", leak, msg)
				}
			}
			if len(msg) > 64<<10 {
				t.Errorf("the error is %d bytes long", len(msg))
			}
		})
	}
}

func TestHostileTableIsLargeEnough(t *testing.T) {
	if n := len(hostileRepos()); n < 40 {
		t.Errorf("%d hostile repos, want at least 40", n)
	}
}

// The jail refuses only what leaves the repo: links that stay inside it
// are followed, for files and folders alike, and ./ and a/../ paths that
// stay inside are cleaned rather than refused.
func TestLinksInsideTheRepoAreFollowed(t *testing.T) {
	files := maps.Clone(goodRepo)
	files["meshops.yaml"] = "cloud: dev\nenvironment: dev\nvalues: ./settings/../values.yaml\nmanifests: policies/\nmeshops:\n  namespaces: [app]\n"
	repo := t.TempDir()
	writeInto(t, repo, files)
	symlink(t, "config/config.yaml", filepath.Join(repo, "values.yaml"))
	symlink(t, "mesh", filepath.Join(repo, "policies"))
	if err := os.Rename(filepath.Join(repo, "mesh", "app.yaml"), filepath.Join(repo, "shared-app.yaml")); err != nil {
		t.Fatal(err)
	}
	symlink(t, "../shared-app.yaml", filepath.Join(repo, "mesh", "app.yaml"))
	opts := DefaultOptions()
	opts.RepoPath = repo
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Manifests) != 6 || c.Settings.firstValues() != "values.yaml" || c.Settings.Manifests != "policies" {
		t.Errorf("%d manifests, values %q, manifests %q", len(c.Manifests), c.Settings.Values, c.Settings.Manifests)
	}
}
