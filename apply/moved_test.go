package apply

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/state"

	"github.com/meshops/meshops/ref"
)

// A pure unit of the record's group commit (the state ConfigMap needs no
// server semantics here; the executor's tests against the real API server
// cover the record end to end): workers whose workloads moved while a
// record write was under way share the next write, and every one of them
// is in the record when moved returns.
func TestMovedWorkloadsWaitingOnARecordWriteShareTheNextOne(t *testing.T) {
	ctx := context.Background()
	base := fake.NewClientBuilder().Build()
	store := &state.Store{Client: base, Namespace: "meshops-system", Name: "meshops-state"}
	if _, err := store.Update(ctx, func(rec *state.Record) { rec.Progress = &state.Progress{Target: "asm-1-29"} }); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	var writes atomic.Int32
	store.Client = interceptor.NewClient(base, interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if writes.Add(1) == 1 {
				<-release // the first write is slow: the others queue behind it
			}
			return c.Update(ctx, obj, opts...)
		},
	})
	r := &run{Executor: &Executor{Store: store}, log: slog.New(slog.DiscardHandler)}

	const workers = 8
	var wg sync.WaitGroup
	wg.Go(func() { r.moved(ctx, wl(0)) })
	for writes.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < workers; i++ {
		wg.Go(func() { r.moved(ctx, wl(i)) })
	}
	for {
		r.mu.Lock()
		n := len(r.restarted)
		r.mu.Unlock()
		if n == workers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	if got := writes.Load(); got != 2 {
		t.Errorf("%d record writes for %d workloads moved while the first write ran; want 2", got, workers)
	}
	rec, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(rec.Progress.Restarted)
	slices.SortFunc(got, ref.Workload.Compare)
	var want []ref.Workload
	for i := range workers {
		want = append(want, wl(i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("record holds %v, want %v", got, want)
	}
	// Moving one again writes nothing.
	r.moved(ctx, wl(3))
	if got := writes.Load(); got != 2 {
		t.Errorf("a workload moved twice wrote the record again (%d writes)", got)
	}
}

func wl(i int) ref.Workload {
	return ref.Workload{Kind: ref.Deployment, Namespace: "ns", Name: fmt.Sprintf("w%d", i)}
}
