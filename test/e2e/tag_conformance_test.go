package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/simmesh"
)

// The tag meshops writes is the tag `istioctl tag set --overwrite` writes:
// field by field equal to what `istioctl tag generate` prints for the same
// cluster, for a fresh tag and for moving it, and it really makes the
// target revision inject.
func TestTagObjectsEqualIstioctlsAndInjectTheTargetRevision(t *testing.T) {
	ctx := context.Background()
	tag := "conformance"
	t.Cleanup(func() { deleteTag(tag) })
	ns := env.Namespace(t, map[string]string{mesh.RevisionLabel: tag})

	wh, svc := tagFromLiveRevision(t, tag, "asm-1-28")
	conformsToIstioctl(t, wh, svc, tag, "asm-1-28")
	applyTag(t, wh, svc)
	waitProbe(t, ns, func(s e2e.Sidecar) bool { return s.Revision == "asm-1-28" })

	// The existing tag, as meshops wrote it, moves to the next revision.
	wh, svc = tagFromLiveRevision(t, tag, "asm-1-29")
	conformsToIstioctl(t, wh, svc, tag, "asm-1-29", "--overwrite")
	applyTag(t, wh, svc)
	waitProbe(t, ns, func(s e2e.Sidecar) bool { return s.Revision == "asm-1-29" })
	live, err := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, wh.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Every field meshops sets holds its value after the move and nothing of
	// asm-1-28 is left: the server only adds its bookkeeping and defaults.
	live.TypeMeta = wh.TypeMeta
	if len(live.Webhooks) != len(wh.Webhooks) {
		t.Errorf("live tag webhook has %d webhooks, meshops wrote %d", len(live.Webhooks), len(wh.Webhooks))
	}
	for _, d := range fieldDiffs(toFields(t, wh), toFields(t, live)) {
		leftover := strings.HasPrefix(d.path, "metadata.labels.") || strings.HasPrefix(d.path, "metadata.annotations.")
		if d.a != nil || leftover {
			t.Errorf("live tag webhook after the move: %s", d)
		}
	}
}

// The local istiods are called by URL (there is no kube-proxy); the add-on's
// injectors call istiod's Service. A revision installed from the chart as
// the add-on installs it, without an istiod behind it, checks that case.
func TestTagObjectsEqualIstioctlsForAnInjectorCallingItsService(t *testing.T) {
	ctx := context.Background()
	rev, tag := "asm-0-1", "conformance-svc"
	injector, istiod := installChartRevision(t, rev)
	if injector.Webhooks[0].ClientConfig.Service == nil {
		t.Fatalf("the chart's injector %s does not call a Service: %+v", injector.Name, injector.Webhooks[0].ClientConfig)
	}
	t.Cleanup(func() { deleteTag(tag) })

	wh, err := mesh.TagWebhook(injector, tag, rev, controlplane.IstioNamespace)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mesh.TagService(istiod, tag, rev, controlplane.IstioNamespace)
	if err != nil {
		t.Fatal(err)
	}
	conformsToIstioctl(t, wh, svc, tag, rev)
	// The API server accepts both as they are.
	applyTag(t, wh, svc)
	if _, err := env.Clientset.CoreV1().Services(controlplane.IstioNamespace).Get(ctx, svc.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

// tagFromLiveRevision builds the tag from the revision's live injector and
// istiod Service, as the executor will, and checks that the webhook carries
// the injector's caBundle (which the comparison with istioctl leaves aside).
func tagFromLiveRevision(t *testing.T, tag, rev string) (*admissionregistrationv1.MutatingWebhookConfiguration, *corev1.Service) {
	t.Helper()
	ctx := context.Background()
	injector, err := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx,
		mesh.InjectorWebhookName(rev, controlplane.IstioNamespace), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	istiod, err := env.Clientset.CoreV1().Services(controlplane.IstioNamespace).Get(ctx, mesh.IstiodName(rev), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := mesh.TagWebhook(injector, tag, rev, controlplane.IstioNamespace)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range wh.Webhooks {
		if len(h.ClientConfig.CABundle) == 0 || !bytes.Equal(h.ClientConfig.CABundle, injector.Webhooks[0].ClientConfig.CABundle) {
			t.Errorf("tag webhook %s: caBundle is not %s's", h.Name, injector.Name)
		}
	}
	svc, err := mesh.TagService(istiod, tag, rev, controlplane.IstioNamespace)
	if err != nil {
		t.Fatal(err)
	}
	return wh, svc
}

// conformsToIstioctl runs `istioctl tag generate` against the cluster and
// compares its webhook and Service with meshops', field by field. caBundle
// is left aside: istiod rotates it, so it is not part of what a tag means.
func conformsToIstioctl(t *testing.T, wh *admissionregistrationv1.MutatingWebhookConfiguration, svc *corev1.Service, tag, rev string, flags ...string) {
	t.Helper()
	bin, err := binaries.Istioctl.Path()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"tag", "generate", tag, "--revision", rev,
		"--istioNamespace", controlplane.IstioNamespace, "--kubeconfig", env.Cluster.Kubeconfig}, flags...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("istioctl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	objs, err := simmesh.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("istioctl %s printed no YAML: %v\n%s", strings.Join(args, " "), err, out)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		var ours, theirs runtime.Object
		switch o.GetKind() {
		case "MutatingWebhookConfiguration":
			istioctlWH := &admissionregistrationv1.MutatingWebhookConfiguration{}
			fromFields(t, o.Object, istioctlWH)
			ours, theirs = withoutCABundle(wh), withoutCABundle(istioctlWH)
		case "Service":
			istioctlSvc := &corev1.Service{}
			fromFields(t, o.Object, istioctlSvc)
			ours, theirs = svc, istioctlSvc
		default:
			t.Errorf("istioctl also generates a %s %s, which meshops does not write", o.GetKind(), o.GetName())
			continue
		}
		for _, d := range fieldDiffs(toFields(t, ours), toFields(t, theirs)) {
			t.Errorf("%s %s: %s", o.GetKind(), o.GetName(), d)
		}
	}
	if kinds["MutatingWebhookConfiguration"] != 1 || kinds["Service"] != 1 {
		t.Errorf("istioctl generated %v, want one MutatingWebhookConfiguration and one Service", kinds)
	}
}

func withoutCABundle(wh *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
	c := wh.DeepCopy()
	for i := range c.Webhooks {
		c.Webhooks[i].ClientConfig.CABundle = nil
	}
	return c
}

// applyTag server-side applies the tag's objects as the executor will.
func applyTag(t *testing.T, wh *admissionregistrationv1.MutatingWebhookConfiguration, svc *corev1.Service) {
	t.Helper()
	ctx := context.Background()
	opts := metav1.PatchOptions{FieldManager: "meshops", Force: ptr.To(true)}
	whJSON, err := json.Marshal(wh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Patch(ctx, wh.Name, types.ApplyPatchType, whJSON, opts); err != nil {
		t.Fatalf("applying %s: %v", wh.Name, err)
	}
	svcJSON, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.ApplyPatchType, svcJSON, opts); err != nil {
		t.Fatalf("applying %s/%s: %v", svc.Namespace, svc.Name, err)
	}
}

func deleteTag(tag string) {
	ctx := context.Background()
	_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx,
		mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	_ = env.Clientset.CoreV1().Services(controlplane.IstioNamespace).Delete(ctx, mesh.TagServiceName(tag), metav1.DeleteOptions{})
}

// installChartRevision installs only the injector webhook and istiod
// Service of a revision, rendered by istioctl from Istio's chart as the
// add-on installs it, and removes them when the test ends.
func installChartRevision(t *testing.T, rev string) (*admissionregistrationv1.MutatingWebhookConfiguration, *corev1.Service) {
	t.Helper()
	ctx := context.Background()
	bin, err := binaries.Istioctl.Path()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "manifest", "generate", "--set", "revision="+rev, "--set", "profile=minimal",
		"--set", "values.global.istioNamespace="+controlplane.IstioNamespace).Output()
	if err != nil {
		t.Fatalf("istioctl manifest generate: %v", err)
	}
	objs, err := simmesh.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	injector := &admissionregistrationv1.MutatingWebhookConfiguration{}
	istiod := &corev1.Service{}
	for _, o := range objs {
		switch {
		case o.GetKind() == "MutatingWebhookConfiguration":
			fromFields(t, o.Object, injector)
		case o.GetKind() == "Service" && o.GetName() == mesh.IstiodName(rev):
			fromFields(t, o.Object, istiod)
		}
	}
	if injector.Name == "" || istiod.Name == "" {
		t.Fatalf("istioctl rendered no injector or no %s for revision %s", mesh.IstiodName(rev), rev)
	}
	admission := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if injector, err = admission.Create(ctx, injector, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admission.Delete(context.Background(), injector.Name, metav1.DeleteOptions{}) })
	services := env.Clientset.CoreV1().Services(controlplane.IstioNamespace)
	if istiod, err = services.Create(ctx, istiod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = services.Delete(context.Background(), istiod.Name, metav1.DeleteOptions{}) })
	return injector, istiod
}

func fromFields(t *testing.T, fields map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(fields, into); err != nil {
		t.Fatal(err)
	}
}

func toFields(t *testing.T, obj any) map[string]any {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fieldDiff is one leaf field whose value differs; nil means absent.
type fieldDiff struct {
	path string
	a, b any
}

func (d fieldDiff) String() string {
	return fmt.Sprintf("%s: meshops %v, other %v", d.path, show(d.a), show(d.b))
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// fieldDiffs lists the leaf fields of a and b (as the API server reads
// them) that differ, sorted by path.
func fieldDiffs(a, b map[string]any) []fieldDiff {
	la, lb := map[string]any{}, map[string]any{}
	leaves("", a, la)
	leaves("", b, lb)
	var out []fieldDiff
	for p, v := range la {
		if !reflect.DeepEqual(v, lb[p]) {
			out = append(out, fieldDiff{p, v, lb[p]})
		}
	}
	for p, v := range lb {
		if _, ok := la[p]; !ok {
			out = append(out, fieldDiff{p, nil, v})
		}
	}
	slices.SortFunc(out, func(x, y fieldDiff) int { return strings.Compare(x.path, y.path) })
	return out
}

// leaves flattens v into path → value; empty maps and lists and nulls are
// absent, as for the API server.
func leaves(path string, v any, out map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			leaves(strings.TrimPrefix(path+"."+k, "."), e, out)
		}
	case []any:
		for i, e := range v {
			leaves(fmt.Sprintf("%s[%d]", path, i), e, out)
		}
	case nil:
	default:
		out[path] = v
	}
}
