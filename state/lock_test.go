package state_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/kubetest"
)

func lockStore(t *testing.T) *state.Store {
	// The lock creates the namespace it lives in, as the record does.
	return &state.Store{Client: env.Client, Namespace: kubetest.UniqueName(t), Name: state.DefaultName}
}

func TestOfTwoWritersStartedTogetherExactlyOneHoldsTheLockAndTheOtherIsToldWho(t *testing.T) {
	ctx := context.Background()
	store := lockStore(t)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		held   []*state.Held
		locked []*state.LockedError
	)
	for _, id := range []string{"host-a/1 (meshops sync)", "host-b/2 (meshops sync)", "host-c/3 (meshops run)"} {
		wg.Go(func() {
			h, err := store.Lock(ctx, state.LockOptions{Identity: id})
			mu.Lock()
			defer mu.Unlock()
			var le *state.LockedError
			switch {
			case err == nil:
				held = append(held, h)
			case errors.As(err, &le):
				locked = append(locked, le)
			default:
				t.Errorf("%s: %v", id, err)
			}
		})
	}
	wg.Wait()
	if len(held) != 1 || len(locked) != 2 {
		t.Fatalf("%d writers hold the lock and %d were refused; want 1 and 2", len(held), len(locked))
	}
	for _, le := range locked {
		if le.Holder == "" || le.Since.IsZero() {
			t.Errorf("refusal does not name the holder and since when: %v", le)
		}
	}
	if err := held[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := store.Lock(ctx, state.LockOptions{Identity: "host-b/2 (meshops sync)"})
	if err != nil {
		t.Fatalf("after the release the next writer is refused: %v", err)
	}
	_ = h.Release(ctx)
}

func TestAWriterWaitsForTheLockUpToItsTimeout(t *testing.T) {
	ctx := context.Background()
	store := lockStore(t)
	first, err := store.Lock(ctx, state.LockOptions{Identity: "first"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(1500 * time.Millisecond)
		_ = first.Release(ctx)
	}()
	second, err := store.Lock(ctx, state.LockOptions{Identity: "second", Wait: time.Minute, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("a writer waiting a minute did not get the lock released after ~1.5s: %v", err)
	}
	_ = second.Release(ctx)

	held, err := store.Lock(ctx, state.LockOptions{Identity: "holder"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	_, err = store.Lock(ctx, state.LockOptions{Identity: "impatient", Wait: 500 * time.Millisecond, Poll: 100 * time.Millisecond})
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder != "holder" || le.Waited < 500*time.Millisecond {
		t.Fatalf("a writer whose wait ran out: %v; want a LockedError naming \"holder\" after waiting", err)
	}
}

func TestALockWhoseHolderStoppedRenewingIsTakenOverAndTheOldHolderLearnsItLostIt(t *testing.T) {
	ctx := context.Background()
	store := lockStore(t)
	old, err := store.Lock(ctx, state.LockOptions{Identity: "killed", Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// A killed holder stops renewing: make the Lease look a minute stale.
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: store.Namespace, Name: state.DefaultLockName}
	if err := env.Client.Get(ctx, key, &lease); err != nil {
		t.Fatal(err)
	}
	lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now().Add(-time.Minute)))
	if err := env.Client.Update(ctx, &lease); err != nil {
		t.Fatal(err)
	}
	next, err := store.Lock(ctx, state.LockOptions{Identity: "next"})
	if err != nil {
		t.Fatalf("an expired lock was not taken over: %v", err)
	}
	defer next.Release(ctx)
	select {
	case <-old.Lost():
		if old.Err() == nil {
			t.Error("lost without a reason")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the old holder did not learn it lost the lock")
	}
}
