package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/plan"
)

// manifest finds the manifest a step names, with meshops' owner labels as
// the plan's dry run saw it. The index is built on first use: a fresh
// install applies every manifest, and a scan per step was quadratic.
func (r *run) manifest(s plan.Step) (configs.Manifest, error) {
	if s.Target.Object == nil {
		return configs.Manifest{}, fmt.Errorf("step %s names no object", s.Target)
	}
	r.indexOnce.Do(func() {
		r.byObject = make(map[object.ObjMetadata]int, len(r.cfg.Manifests))
		for i, m := range r.cfg.Manifests {
			id := object.ObjMetadata{GroupKind: m.GroupKind(), Namespace: m.GetNamespace(), Name: m.GetName()}
			if _, dup := r.byObject[id]; !dup {
				r.byObject[id] = i
			}
		}
	})
	i, ok := r.byObject[s.Target.Object.Metadata()]
	if !ok {
		return configs.Manifest{}, fmt.Errorf("%s is not in the config this plan was made from", s.Target)
	}
	return plan.Owned(r.Cluster, []configs.Manifest{r.cfg.Manifests[i]})[0], nil
}

// preflight dry-runs every object step for field conflicts, so that a
// conflict stops the run before it changes anything.
func (r *run) preflight(ctx context.Context) error {
	if r.Options.ForceConflicts {
		return nil
	}
	var errs []error
	for _, s := range r.p.Steps {
		if s.Op != plan.OpApply {
			continue
		}
		m, err := r.manifest(s)
		if err != nil {
			return err
		}
		if err := r.conflicts(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// applyObject server-side applies one manifest through fluxcd/pkg/ssa. A
// field another manager owns stops the apply, named, unless ForceConflicts:
// ssa itself always forces ownership, so the check is a dry run without
// force first. ssa's Force (delete and recreate on an immutable field) is
// never used: a policy missing for even a moment changes who may talk to
// whom.
func (r *run) applyObject(ctx context.Context, s plan.Step) (string, error) {
	m, err := r.manifest(s)
	if err != nil {
		return "", err
	}
	if s.Replace {
		if err := r.replaceSpec(ctx, m); err != nil {
			return "", err
		}
	}
	// The replace writes with an update under meshops' name, which the
	// server keeps as a manager of its own beside meshops' applies: left
	// there, the next apply of a changed field conflicts with meshops
	// itself. The apply folds that entry into meshops' apply.
	// Hand edits with kubectl are folded in the same way: they are drift,
	// and git's value is put back.
	entry, err := r.Cluster.RM.Apply(ctx, m.Unstructured(), ssa.ApplyOptions{Cleanup: ssa.ApplyCleanupOptions{
		FieldManagers: append([]ssa.FieldManager{{Name: r.Cluster.FieldManager, ExactMatch: true, OperationType: metav1.ManagedFieldsOperationUpdate}}, handEdits...),
	}})
	if err != nil {
		return "", fmt.Errorf("%s: %w", m.Source, err)
	}
	r.res.Applied++
	return appliedAs(entry.Action, s.Replace), nil
}

// appliedAs says what happened to an object, in the plan's words.
func appliedAs(a ssa.Action, replaced bool) string {
	switch {
	case replaced:
		return "replaced: fields added outside git removed"
	case a == ssa.CreatedAction:
		return "created"
	case a == ssa.ConfiguredAction:
		return "updated"
	}
	return string(a)
}

// replaceSpec writes git's spec over the live one in one update, so fields
// another manager added disappear without the policy ever being absent or
// half-written; the server-side apply that follows takes ownership back.
func (r *run) replaceSpec(ctx context.Context, m configs.Manifest) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(m.GroupVersionKind())
	if err := r.Cluster.Client.Get(ctx, client.ObjectKey{Namespace: m.GetNamespace(), Name: m.GetName()}, live); err != nil {
		return fmt.Errorf("%s (%s): reading the live object: %w", m.ID(), m.Source, err)
	}
	if spec, ok := m.Unstructured().Object["spec"]; ok {
		live.Object["spec"] = spec
	} else {
		delete(live.Object, "spec")
	}
	if err := r.Cluster.Client.Update(ctx, live, client.FieldOwner(r.Cluster.FieldManager)); err != nil {
		return fmt.Errorf("%s (%s): replacing the spec: %w", m.ID(), m.Source, err)
	}
	r.log.Info("spec replaced: fields added outside git removed", "object", m.ID())
	return nil
}

// handEdits are the field managers of a person changing an object by hand:
// kubectl's edit, patch, replace, label, client-side apply and the like
// (each writes as an update under a "kubectl…" name), and the name the
// API server gives fields written before managed fields existed. A field
// git holds that one of them changed is drift, as the plan says, and the
// apply takes it back (ssa's cleanup moves their fields to meshops first).
// Any other manager, a controller or another tool's apply, is a conflict
// that stops the run unless --force-conflicts.
var handEdits = []ssa.FieldManager{
	{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
	{Name: "before-first-apply", ExactMatch: true, OperationType: metav1.ManagedFieldsOperationUpdate},
}

// isHandEdit reports whether the manager a conflict names is one of
// handEdits, matched as ssa's cleanup matches them (a prefix unless exact).
func isHandEdit(c conflictWith) bool {
	if c.Subresource || !c.Update {
		return false
	}
	for _, h := range handEdits {
		if c.Manager == h.Name || (!h.ExactMatch && strings.HasPrefix(c.Manager, h.Name)) {
			return true
		}
	}
	return false
}

// conflictWith is the manager a field conflict names.
type conflictWith struct {
	Manager string
	// Update is true for a manager that wrote by update (kubectl edit,
	// patch), false for a server-side apply.
	Update bool
	// Subresource is true for a write through a subresource (status,
	// scale), which ssa's cleanup leaves alone.
	Subresource bool
}

// parseConflict reads the manager from a conflict cause's message, as the
// API server writes it: `conflict with "kubectl-edit" using v1 at <time>`
// for an update, `conflict with "tool"` for an apply, with `with
// subresource "status"` after the name for a subresource's manager.
func parseConflict(msg string) (conflictWith, bool) {
	rest, ok := strings.CutPrefix(msg, "conflict with ")
	if !ok {
		return conflictWith{}, false
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return conflictWith{}, false
	}
	name, err := strconv.Unquote(quoted)
	if err != nil {
		return conflictWith{}, false
	}
	rest = rest[len(quoted):]
	return conflictWith{
		Manager:     name,
		Update:      strings.Contains(rest, " using "),
		Subresource: strings.HasPrefix(rest, " with subresource "),
	}, true
}

// conflicts dry-runs the apply without forcing ownership; the API server
// answers 409 naming every manager and field in the way. Fields a hand
// edit holds are not in the way: the apply takes them back.
func (r *run) conflicts(ctx context.Context, m configs.Manifest) error {
	obj := m.Unstructured()
	err := r.Cluster.Client.Patch(ctx, obj, client.Apply, client.FieldOwner(r.Cluster.FieldManager), client.DryRunAll)
	if err == nil || !apierrors.IsConflict(err) {
		// Other dry-run failures surface, with more context, from the apply.
		return nil
	}
	var status apierrors.APIStatus
	var causes []string
	if errors.As(err, &status) && status.Status().Details != nil {
		all := status.Status().Details.Causes
		for _, c := range all {
			if w, ok := parseConflict(c.Message); ok && isHandEdit(w) {
				continue
			}
			causes = append(causes, fmt.Sprintf("%s (%s)", c.Field, c.Message))
		}
		if len(all) > 0 && len(causes) == 0 {
			return nil
		}
	}
	if len(causes) == 0 {
		causes = []string{err.Error()}
	}
	return fmt.Errorf("%s (%s): fields owned by another manager: %s; make git match, have that manager release the field, or run with --force-conflicts to take it",
		m.ID(), m.Source, strings.Join(causes, "; "))
}

// labelNamespace sets istio.io/rev=<tag> by server-side apply of just that
// label, so meshops owns the label and nothing else on the namespace.
func (r *run) labelNamespace(ctx context.Context, s plan.Step) (string, error) {
	name := s.Target.Name
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"istio.io/rev": r.p.Tag}},
	}}
	if err := r.Cluster.Client.Patch(ctx, ns, client.Apply, client.FieldOwner(r.Cluster.FieldManager), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("labelling namespace %s: %w", name, err)
	}
	r.res.Labelled++
	return "istio.io/rev=" + r.p.Tag, nil
}

// createNamespace creates a namespace the config needs, by server-side
// apply, labelled with the tag when it is one of the mesh's.
func (r *run) createNamespace(ctx context.Context, s plan.Step) (string, error) {
	name := s.Target.Name
	md := map[string]any{"name": name}
	if slices.Contains(r.cfg.Settings.Extensions.Namespaces, name) {
		md["labels"] = map[string]any{"istio.io/rev": r.p.Tag}
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": md}}
	if err := r.Cluster.Client.Patch(ctx, ns, client.Apply, client.FieldOwner(r.Cluster.FieldManager), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return "created", nil
}

// annotateIngress sets the public IP annotations on the gateway Service by
// server-side apply of just those two, so meshops owns nothing else on it.
func (r *run) annotateIngress(ctx context.Context, s plan.Step) (string, error) {
	ann := map[string]any{}
	for k, v := range plan.IngressAnnotations(r.cfg) {
		ann[k] = v
	}
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": s.Target.Object.Namespace, "name": s.Target.Object.Name, "annotations": ann},
	}}
	if err := r.Cluster.Client.Patch(ctx, svc, client.Apply, client.FieldOwner(r.Cluster.FieldManager), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("annotating %s: %w", s.Target, err)
	}
	return "annotated", nil
}

// prune deletes an object that left git, only if it carries meshops' owner
// labels: objects meshops never created are never deleted.
func (r *run) prune(ctx context.Context, s plan.Step) (string, error) {
	if s.Target.Object == nil {
		return "", fmt.Errorf("prune step %s names no object", s.Target)
	}
	id := s.Target.Object.Metadata()
	mapping, err := r.Cluster.Client.RESTMapper().RESTMapping(id.GroupKind)
	if err != nil {
		return "", fmt.Errorf("finding the API of %s: %w", s.Target, err)
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(mapping.GroupVersionKind)
	obj.SetNamespace(id.Namespace)
	obj.SetName(id.Name)
	entry, err := r.Cluster.RM.Delete(ctx, obj, ssa.DeleteOptions{
		PropagationPolicy: metav1.DeletePropagationBackground,
		Inclusions:        r.Cluster.RM.GetOwnerLabels(r.Cluster.OwnerName, r.Cluster.OwnerNamespace),
	})
	if apierrors.IsNotFound(err) {
		return "already gone", nil
	}
	if err != nil {
		return "", err
	}
	if entry.Action == ssa.DeletedAction {
		r.res.Pruned++
	}
	return string(entry.Action), nil
}
