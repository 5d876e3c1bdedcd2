package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "deployments"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused while the API server restarts", &url.Error{Op: "Get", URL: "https://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"connection reset", fmt.Errorf("reading: %w", syscall.ECONNRESET), true},
		{"a response cut short", io.ErrUnexpectedEOF, true},
		{"throttled (429)", apierrors.NewTooManyRequests("slow down", 1), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "get", 1), true},
		{"internal error (500)", apierrors.NewInternalError(errors.New("etcd")), true},
		{"service unavailable (503)", apierrors.NewServiceUnavailable("starting"), true},
		{"gateway timeout (504)", apierrors.NewGenericServerResponse(504, "get", gr, "x", "", 0, true), true},
		{"not found", apierrors.NewNotFound(gr, "x"), false},
		{"conflict: the caller decides again", apierrors.NewConflict(gr, "x", errors.New("changed")), false},
		{"forbidden by RBAC", apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{"invalid object", apierrors.NewBadRequest("bad"), false},
		{"cancelled by the caller", fmt.Errorf("get: %w", context.Canceled), false},
		{"the caller's deadline", context.DeadlineExceeded, false},
		{"nil", nil, false},
		{"an injector that cannot be called is the webhook's failure, not the server's", apierrors.NewInternalError(errors.New(`failed calling webhook "rev.namespace.sidecar-injector.istio.io": Post "https://localhost:1/inject": connection refused`)), false},
		{"any other error", errors.New("x509: certificate signed by unknown authority"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Transient(c.err); got != c.want {
				t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestDoRetriesTransientErrorsUntilTheyPassAndStopsAtOnceOnOthers(t *testing.T) {
	o := Options{First: time.Millisecond, Max: 4 * time.Millisecond, Within: time.Second}
	calls := 0
	err := Do(context.Background(), o, func() error {
		calls++
		if calls < 4 {
			return syscall.ECONNREFUSED
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Errorf("Do = %v after %d calls; want success on the 4th", err, calls)
	}
	calls = 0
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "x")
	if err := Do(context.Background(), o, func() error { calls++; return notFound }); !apierrors.IsNotFound(err) || calls != 1 {
		t.Errorf("Do = %v after %d calls; want the NotFound after one call", err, calls)
	}
	calls = 0
	bounded := Options{First: time.Millisecond, Max: time.Millisecond, Within: 20 * time.Millisecond}
	if err := Do(context.Background(), bounded, func() error { calls++; return syscall.ECONNREFUSED }); !errors.Is(err, syscall.ECONNREFUSED) || calls < 2 {
		t.Errorf("Do = %v after %d calls; want the last transient error once the bound is reached", err, calls)
	}
}
