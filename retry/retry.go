// Package retry makes meshops ride out an API server that blinks: a
// restart, a dropped connection, throttling, a 5xx. Transient errors are
// retried with backoff, within a bound; every other error (not found,
// conflict, invalid, forbidden) returns at once, because trying again
// would not change it.
package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Options bound the retries of one call.
type Options struct {
	// First is the first wait; each next one doubles, up to Max.
	First, Max time.Duration
	// Within bounds all tries of one call; a call's context may end it
	// sooner.
	Within time.Duration
}

// DefaultOptions ride out an API server restart (about 5 s here, a minute
// for a managed control plane's upgrade) without hiding a dead one.
func DefaultOptions() Options {
	return Options{First: 100 * time.Millisecond, Max: 5 * time.Second, Within: 2 * time.Minute}
}

// Transient reports whether err is worth trying again: the server was not
// reached or asked to come back later.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// An admission webhook that cannot be called is the webhook's failure
	// (an injector down), reported by a healthy API server: it says
	// something about the webhook that trying again soon would hide.
	if WebhookFailed(err) {
		return false
	}
	switch {
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code == 502 || code == 503 || code == 504
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// WebhookFailed reports whether the API server refused a request because
// an admission webhook could not be called or failed.
func WebhookFailed(err error) bool {
	return err != nil && strings.Contains(err.Error(), "failed calling webhook")
}

// Do calls fn until it succeeds, fails for good, or the bound is reached;
// the error is fn's last.
func Do(ctx context.Context, o Options, fn func() error) error {
	wait := o.First
	deadline := time.Now().Add(o.Within)
	for {
		err := fn()
		if !Transient(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, o.Max)
	}
}

// Client is c with every call retried as Do does, once the server has
// answered a first call: a server never reached is a wrong address or
// kubeconfig, reported at once; one that stops answering mid-run is a
// blink, ridden out. Writes are retried too: meshops' writes are
// idempotent (server-side apply, merge patches, updates and creates whose
// conflicts the callers handle).
func Client(c client.WithWatch, o Options) client.WithWatch {
	var reached atomic.Bool
	call := func(ctx context.Context, fn func() error) error {
		o := o
		if !reached.Load() {
			o.Within = 0
		}
		err := Do(ctx, o, fn)
		if !Transient(err) {
			// The server answered, if only to refuse.
			reached.Store(true)
		}
		return err
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			return call(ctx, func() error { return c.Get(ctx, key, obj, opts...) })
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			return call(ctx, func() error { return c.List(ctx, list, opts...) })
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return call(ctx, func() error { return c.Create(ctx, obj, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return call(ctx, func() error { return c.Delete(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return call(ctx, func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return call(ctx, func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			return call(ctx, func() error { return c.Apply(ctx, obj, opts...) })
		},
		Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			var w watch.Interface
			err := call(ctx, func() (err error) { w, err = c.Watch(ctx, list, opts...); return err })
			return w, err
		},
		SubResourceGet: func(ctx context.Context, c client.Client, sub string, obj, subResource client.Object, opts ...client.SubResourceGetOption) error {
			return call(ctx, func() error { return c.SubResource(sub).Get(ctx, obj, subResource, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return call(ctx, func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return call(ctx, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
	})
}
