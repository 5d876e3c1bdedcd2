package apply

import "testing"

// Which conflicts a sync takes back as drift, from the manager the API
// server names: only kubectl's hand edits by update.
func TestConflictsByHandEditsAreDriftAndOthersAreConflicts(t *testing.T) {
	for _, tc := range []struct {
		msg      string
		parsed   bool
		handEdit bool
	}{
		{`conflict with "kubectl-edit" using security.istio.io/v1 at 2026-11-28T11:30:00Z`, true, true},
		{`conflict with "kubectl-patch" using security.istio.io/v1`, true, true},
		{`conflict with "kubectl-client-side-apply" using v1 at 2026-11-28T11:30:00Z`, true, true},
		{`conflict with "kubectl" using v1`, true, true},
		{`conflict with "before-first-apply" using v1`, true, true},
		{`conflict with "before-first-apply-x" using v1`, true, false},
		// kubectl apply --server-side is an apply of its own: a conflict.
		{`conflict with "kubectl"`, true, false},
		{`conflict with "platform-team"`, true, false},
		{`conflict with "istio-operator" using install.istio.io/v1alpha1`, true, false},
		{`conflict with "kubectl-edit" with subresource "status" using v1`, true, false},
		{`conflict with "kube\"ctl-edit" using v1`, true, false},
		{`conflict with kubectl-edit using v1`, false, false},
		{`something else`, false, false},
		{``, false, false},
	} {
		w, ok := parseConflict(tc.msg)
		if ok != tc.parsed {
			t.Errorf("parseConflict(%q) ok = %v, want %v", tc.msg, ok, tc.parsed)
			continue
		}
		if got := ok && isHandEdit(w); got != tc.handEdit {
			t.Errorf("%q (%+v): hand edit = %v, want %v", tc.msg, w, got, tc.handEdit)
		}
	}
}
