package observe

import (
	"errors"
	"testing"
)

func TestReadsReportTheFirstStartedFailureWhicheverFailedFirst(t *testing.T) {
	first, second := errors.New("listing MutatingWebhookConfigurations: forbidden"), errors.New("listing Pods: forbidden")
	secondDone := make(chan struct{})
	var r reads
	r.Go(func() error {
		<-secondDone // fails only after the second has
		return first
	})
	r.Go(func() error {
		defer close(secondDone)
		return second
	})
	r.Go(func() error { return nil })
	if err := r.Wait(); err != first {
		t.Errorf("Wait = %v, want the first read's error %v", err, first)
	}
	var none reads
	none.Go(func() error { return nil })
	if err := none.Wait(); err != nil {
		t.Errorf("Wait with no failure = %v", err)
	}
}
