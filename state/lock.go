package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultLockName is the Lease that lets one meshops at a time change the
// cluster, beside the record in the state namespace.
const DefaultLockName = "meshops-writer"

// LockOptions tune the writer lock. DefaultLockOptions gives the defaults.
type LockOptions struct {
	// Name of the Lease; default DefaultLockName.
	Name string
	// Identity names the holder in the Lease and in the message others get:
	// host, process and command.
	Identity string
	// Duration is how long a holder that stopped renewing (killed) keeps
	// the lock: after it, the next writer takes it over. Default 30s.
	Duration time.Duration
	// Wait is how long Acquire waits for another holder; 0 fails at once.
	Wait time.Duration
	// Poll is how often a waiting Acquire looks again. Default 1s.
	Poll time.Duration
}

// DefaultLockOptions are the writer lock's defaults.
func DefaultLockOptions() LockOptions {
	return LockOptions{Name: DefaultLockName, Duration: 30 * time.Second, Poll: time.Second}
}

// LockedError says who holds the lock.
type LockedError struct {
	Lease           string
	Holder          string
	Since, Renewed  time.Time
	Waited, Expires time.Duration
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("another meshops is changing this cluster: Lease %s is held by %q since %s (renewed %s ago)",
		e.Lease, e.Holder, e.Since.UTC().Format(time.RFC3339), time.Since(e.Renewed).Round(time.Second))
	if e.Waited > 0 {
		msg += fmt.Sprintf("; waited %s", e.Waited.Round(time.Second))
	}
	return msg + "; try again when it is done, or wait longer with --lock-timeout"
}

// Held is a taken writer lock, renewed in the background until Release.
type Held struct {
	store *Store
	opts  LockOptions
	lost  chan struct{}
	once  sync.Once
	stop  context.CancelFunc
	done  chan struct{}
	err   error
}

// Lost is closed when the lock could not be renewed: another writer may
// take it over, so the holder must stop changing the cluster.
func (h *Held) Lost() <-chan struct{} { return h.lost }

// Err says why the lock was lost, once Lost is closed.
func (h *Held) Err() error {
	select {
	case <-h.lost:
		return h.err
	default:
		return nil
	}
}

// Lock takes the cluster-wide writer lock: a Lease in the state namespace,
// updated with its resourceVersion as a precondition, so two processes
// never both hold it. A Lease whose holder stopped renewing it for longer
// than its duration (a killed process) is taken over.
func (s *Store) Lock(ctx context.Context, o LockOptions) (*Held, error) {
	d := DefaultLockOptions()
	if o.Name == "" {
		o.Name = d.Name
	}
	if o.Duration <= 0 {
		o.Duration = d.Duration
	}
	if o.Poll <= 0 {
		o.Poll = d.Poll
	}
	if o.Identity == "" {
		return nil, errors.New("writer lock: no identity")
	}
	start := time.Now()
	for races := 0; ; {
		err := s.tryLock(ctx, o)
		var locked *LockedError
		if err == nil {
			break
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && races < 5 {
			// Another process wrote the Lease between our read and write:
			// read it again to see who holds it now.
			races++
			continue
		}
		if !errors.As(err, &locked) {
			return nil, err
		}
		if time.Since(start) >= o.Wait {
			locked.Waited = time.Since(start)
			return nil, locked
		}
		t := time.NewTimer(min(o.Poll, o.Wait-time.Since(start)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &Held{store: s, opts: o, lost: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go h.renew(rctx)
	return h, nil
}

func (s *Store) leaseKey(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: s.key().Namespace, Name: name}
}

// tryLock takes the Lease if it is free, expired or already ours.
func (s *Store) tryLock(ctx context.Context, o LockOptions) error {
	now := metav1.NewMicroTime(time.Now())
	var lease coordinationv1.Lease
	err := s.Client.Get(ctx, s.leaseKey(o.Name), &lease)
	if apierrors.IsNotFound(err) {
		if err := s.ensureNamespace(ctx, s.key().Namespace); err != nil {
			return err
		}
		lease = coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.key().Namespace, Name: o.Name,
				Labels: map[string]string{"app.kubernetes.io/name": "meshops", "app.kubernetes.io/component": "writer-lock"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(o.Identity), AcquireTime: &now, RenewTime: &now,
				LeaseDurationSeconds: ptr.To(int32(o.Duration.Seconds()))},
		}
		return s.Client.Create(ctx, &lease)
	}
	if err != nil {
		return fmt.Errorf("reading Lease %s: %w", s.leaseKey(o.Name), err)
	}
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	if holder != "" && holder != o.Identity && !expired(&lease, now.Time) {
		l := &LockedError{Lease: s.leaseKey(o.Name).String(), Holder: holder}
		if lease.Spec.AcquireTime != nil {
			l.Since = lease.Spec.AcquireTime.Time
		}
		if lease.Spec.RenewTime != nil {
			l.Renewed = lease.Spec.RenewTime.Time
		}
		return l
	}
	if holder != o.Identity {
		lease.Spec.AcquireTime = &now
		lease.Spec.LeaseTransitions = ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1)
	}
	lease.Spec.HolderIdentity, lease.Spec.RenewTime = ptr.To(o.Identity), &now
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(o.Duration.Seconds()))
	// The Get's resourceVersion makes the Update a compare-and-swap: of two
	// processes that saw the Lease free, one gets a conflict.
	return s.Client.Update(ctx, &lease)
}

func expired(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return now.After(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// renew keeps the Lease fresh at a third of its duration. A renewal that
// finds another holder, or that fails for longer than the duration, loses
// the lock.
func (h *Held) renew(ctx context.Context) {
	defer close(h.done)
	every := h.opts.Duration / 3
	lastOK := time.Now()
	for {
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := h.store.tryLock(ctx, h.opts)
		var locked *LockedError
		switch {
		case err == nil:
			lastOK = time.Now()
		case errors.As(err, &locked):
			h.lose(fmt.Errorf("writer lock taken over by %q", locked.Holder))
			return
		case time.Since(lastOK) > h.opts.Duration:
			h.lose(fmt.Errorf("writer lock not renewed for %s: %w", time.Since(lastOK).Round(time.Second), err))
			return
		}
	}
}

func (h *Held) lose(err error) {
	h.once.Do(func() {
		h.err = err
		close(h.lost)
	})
}

// Release gives the lock up, so the next writer need not wait for it to
// expire.
func (h *Held) Release(ctx context.Context) error {
	h.stop()
	<-h.done
	var lease coordinationv1.Lease
	key := h.store.leaseKey(h.opts.Name)
	if err := h.store.Client.Get(ctx, key, &lease); err != nil {
		return fmt.Errorf("releasing Lease %s: %w", key, err)
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != h.opts.Identity {
		return nil
	}
	lease.Spec.HolderIdentity, lease.Spec.RenewTime = nil, nil
	if err := h.store.Client.Update(ctx, &lease); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("releasing Lease %s: %w", key, err)
	}
	return nil
}
