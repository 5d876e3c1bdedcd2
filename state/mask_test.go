package state_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/kubetest"
)

// An error quoting a git URL with a token or a Bearer header is stored and
// shown masked: neither the ConfigMap nor the record Load returns holds it.
func TestStoreMasksSecretsInErrors(t *testing.T) {
	ctx := context.Background()
	store := &state.Store{Client: env.Client, Namespace: kubetest.UniqueName(t)}
	const (
		urlToken = "ghp_0123456789abcdefABCDEF0123456789abcd"
		bearer   = "planted-bearer-42"
	)
	if _, err := store.Update(ctx, func(r *state.Record) {
		r.LastError = "fetch refs/heads/main from https://" + urlToken + "@github.com/org/config?access_token=planted-q: authentication required"
		r.SourceError = "fetch refs/heads/main from https://" + urlToken + "@github.com/org/config: connection refused"
		r.BadRevisions = map[string]state.BadRevision{"asm-1-29": {Commit: "abc", Error: "probe: Authorization: Bearer " + bearer}}
	}); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: store.Namespace, Name: state.DefaultName}, &cm); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{cm.Data["record.json"], got.LastError, got.SourceError, got.BadRevisions["asm-1-29"].Error} {
		for _, planted := range []string{urlToken, bearer, "planted-q"} {
			if strings.Contains(text, planted) {
				t.Errorf("state holds %s: %s", planted, text)
			}
		}
	}
	if !strings.Contains(got.LastError, "github.com/org/config") {
		t.Errorf("masking lost the rest of the error: %s", got.LastError)
	}
}

// A record written by a meshops from before masking is masked when read,
// so meshops status never shows what it stored.
func TestLoadMasksARecordWrittenBeforeMasking(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	cm := &corev1.ConfigMap{}
	cm.Namespace, cm.Name = ns, state.DefaultName
	cm.Data = map[string]string{"record.json": `{"lastResult":"failed","lastError":"fetch from https://x-access-token:planted-old@github.com/o/c: authentication required"}`}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	got, err := (&state.Store{Client: env.Client, Namespace: ns}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.LastError, "planted-old") || !strings.Contains(got.LastError, "github.com/o/c") {
		t.Errorf("LastError = %q, want the password masked and the rest kept", got.LastError)
	}
}
