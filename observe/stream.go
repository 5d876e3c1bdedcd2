package observe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EachObject calls fn with every object of list's kind, in one request and
// without holding them all: a streaming list (Kubernetes' WatchList, a
// watch that sends the current objects one by one and then a bookmark).
// A list decoded whole held every pod and every policy of a fleet at once,
// raw body and decoded copy, when the plan keeps a few fields of each.
//
// When the client cannot watch, or the server refuses the stream (the
// WatchList feature off, as on Kubernetes 1.33), it falls back to one
// plain List. fn must not keep obj unless it owns it from then on.
func EachObject(ctx context.Context, c client.Reader, list client.ObjectList, fn func(obj runtime.Object) error, opts ...client.ListOption) error {
	if w, ok := c.(client.WithWatch); ok {
		streamed, err := streamList(ctx, w, list, fn, opts)
		if streamed || err != nil {
			return err
		}
	}
	if err := c.List(ctx, list, opts...); err != nil {
		return err
	}
	return meta.EachListItem(list, fn)
}

// streamList runs the streaming list. streamed is false, with no error,
// when the server refused it before sending anything, so a List can take
// over; a stream broken once objects went to fn is an error, since fn
// cannot take them twice.
func streamList(ctx context.Context, w client.WithWatch, list client.ObjectList, fn func(runtime.Object) error, opts []client.ListOption) (streamed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wi, err := w.Watch(ctx, list, streamingOptions(opts))
	if err != nil {
		return false, nil
	}
	return eachEvent(ctx, wi, fn)
}

// streamingOptions are opts for a streaming list: a watch that sends the
// current objects first, then a bookmark.
func streamingOptions(opts []client.ListOption) *client.ListOptions {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	raw := metav1.ListOptions{}
	if lo.Raw != nil {
		raw = *lo.Raw
	}
	raw.SendInitialEvents = ptr.To(true)
	raw.AllowWatchBookmarks = true
	raw.ResourceVersionMatch = metav1.ResourceVersionMatchNotOlderThan
	lo.Raw = &raw
	return lo
}

// eachEvent calls fn with each object a streaming list sends until the
// bookmark that ends the current objects, and stops wi. streamed is as
// streamList's.
func eachEvent(ctx context.Context, wi watch.Interface, fn func(runtime.Object) error) (streamed bool, err error) {
	defer wi.Stop()
	sent := 0
	for {
		var ev watch.Event
		var open bool
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, open = <-wi.ResultChan():
		}
		if !open {
			if sent == 0 {
				return false, nil
			}
			return true, errors.New("the streaming list ended before its last object")
		}
		switch ev.Type {
		case watch.Added:
			sent++
			if err := fn(ev.Object); err != nil {
				return true, err
			}
		case watch.Bookmark:
			if endsInitialEvents(ev.Object) {
				return true, nil
			}
		case watch.Error:
			if sent == 0 {
				return false, nil
			}
			return true, fmt.Errorf("streaming list: %w", statusError(ev.Object))
		}
		// Changes after the current objects come after the bookmark,
		// which ends the stream first.
	}
}

// endsInitialEvents reports whether a bookmark, decoded or as its JSON
// (EachJSON), is the one that follows the current objects.
func endsInitialEvents(obj runtime.Object) bool {
	if u, ok := obj.(*runtime.Unknown); ok {
		var b struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		return json.Unmarshal(u.Raw, &b) == nil && b.Metadata.Annotations[metav1.InitialEventsAnnotationKey] == "true"
	}
	m, err := meta.Accessor(obj)
	return err == nil && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true"
}

// statusError is the API error an error event carries, decoded or as its
// JSON (EachJSON).
func statusError(obj runtime.Object) error {
	if u, ok := obj.(*runtime.Unknown); ok {
		st := &metav1.Status{}
		if err := json.Unmarshal(u.Raw, st); err != nil {
			return fmt.Errorf("undecodable error event: %w", err)
		}
		obj = st
	}
	return apierrors.FromObject(obj)
}
