package retry_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/retry"
	"github.com/meshops/meshops/test/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// blinker is a TCP proxy in front of the real API server that can drop
// every connection and refuse new ones for a while, as a restarting
// kube-apiserver does.
type blinker struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	lis     net.Listener
	conns   []net.Conn
}

func newBlinker(t *testing.T, backend string) *blinker {
	b := &blinker{t: t, backend: backend}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = lis.Addr().String()
	b.serve(lis)
	t.Cleanup(func() { b.down() })
	return b
}

func (b *blinker) serve(lis net.Listener) {
	b.mu.Lock()
	b.lis = lis
	b.mu.Unlock()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", b.backend)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.conns = append(b.conns, c, s)
			b.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
}

func (b *blinker) down() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lis != nil {
		b.lis.Close()
		b.lis = nil
	}
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

// blink drops everything, then listens again on the same address after d.
func (b *blinker) blink(d time.Duration) {
	b.down()
	time.AfterFunc(d, func() {
		lis, err := net.Listen("tcp", b.addr)
		if err != nil {
			b.t.Errorf("listening again on %s: %v", b.addr, err)
			return
		}
		b.serve(lis)
	})
}

func clientThrough(t *testing.T, addr string, o retry.Options) client.WithWatch {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	cfg.Host = u.String()
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme, Mapper: env.Mapper})
	if err != nil {
		t.Fatal(err)
	}
	return retry.Client(c, o)
}

func TestACallDuringAnAPIServerBlinkSucceedsOnceItIsBack(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	b := newBlinker(t, u.Host)
	c := clientThrough(t, b.addr, retry.DefaultOptions())
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, ns); err != nil {
		t.Fatal(err)
	}
	b.blink(1500 * time.Millisecond)
	start := time.Now()
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, ns); err != nil {
		t.Fatalf("a read during a 1.5 s blink failed: %v", err)
	}
	t.Logf("a read during a 1.5 s blink returned after %s", time.Since(start).Round(time.Millisecond))
}

func TestAServerNeverReachedIsReportedAtOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	c := clientThrough(t, addr, retry.Options{First: time.Second, Max: time.Second, Within: time.Hour})
	done := make(chan error, 1)
	go func() { done <- c.Get(context.Background(), client.ObjectKey{Name: "default"}, &corev1.Namespace{}) }()
	select {
	case err := <-done:
		if err == nil || !retry.Transient(err) {
			t.Errorf("a refused first call returned %v, want the connection error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a client that never reached its server retried instead of reporting it")
	}
}
