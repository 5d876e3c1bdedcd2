// Package kubetest gives a package's tests one real API server: a
// kube-apiserver and etcd built from the Go module proxy (test/binaries),
// driven by controller-runtime's envtest, with the Istio and Gateway API
// CRDs installed. One server per package, started in TestMain, keeps tests
// fast; each test isolates itself in namespaces of its own.
package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/crds"
)

// Env is a running API server with a client for it.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	// Mapper resolves kinds dynamically, so CRDs installed after start-up
	// are found.
	Mapper meta.RESTMapper

	env *envtest.Environment
}

// Main starts the API server, points *env at it, runs the package's tests
// and stops the server. Call it from TestMain:
//
//	var env *kubetest.Env
//	func TestMain(m *testing.M) { kubetest.Main(m, &env) }
func Main(m *testing.M, env **Env) {
	// A fuzz worker runs one fuzz target, never a test that uses env:
	// an API server in every worker made the fuzzer stall for minutes.
	if slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.fuzzworker") }) {
		os.Exit(m.Run())
	}
	e, err := Start(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: stopping the API server: %v\n", err)
	}
	os.Exit(code)
}

// Start launches an API server with the CRDs installed. KUBEBUILDER_ASSETS
// names the binaries when set (as `make test` does); otherwise the cached
// builds of `make tools` are used.
func Start(ctx context.Context) (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		dir, err := binaries.EnvtestAssets()
		if err != nil {
			return nil, err
		}
		os.Setenv("KUBEBUILDER_ASSETS", dir)
	}
	list, err := crds.Load(ctx)
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		CRDInstallOptions:        envtest.CRDInstallOptions{CRDs: list},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	// Tests create many objects quickly; the default client rate limit
	// would make them measure the limiter instead of the server.
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		_ = te.Stop()
		return nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	// With watch, as cmd/meshops builds it: plan streams its lists.
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme, Mapper: mapper, HTTPClient: httpClient})
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, Mapper: mapper, env: te}, nil
}

// Stop shuts the API server down.
func (e *Env) Stop() error { return e.env.Stop() }

var nsCounter atomic.Int64

// UniqueName derives a valid, unique namespace name from the test's name,
// so a leftover object tells which test made it.
func UniqueName(t testing.TB) string {
	base := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("%s-%d-%s", strings.Trim(base, "-"), nsCounter.Add(1), utilrand.String(4))
}

// Namespace creates a namespace with a unique name derived from the test's
// and the given labels, and deletes it when the test ends.
func (e *Env) Namespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	name := UniqueName(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return name
}

// Kubeconfig writes a kubeconfig for a cluster-admin user of this API
// server into the test's temp folder, for tests of the command line.
func (e *Env) Kubeconfig(t testing.TB) string {
	t.Helper()
	user, err := e.env.AddUser(envtest.User{Name: "meshops-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
