package e2e

import (
	"context"
	"encoding/json"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/test/controlplane"
)

// BreakOnRevision intercepts meshops' restarts so that one Deployment's
// pods never turn ready whenever a restart moves it to rev, and heal when
// a restart moves it anywhere else: a release that breaks exactly that
// workload. The API server, the controllers and istiod stay real; only the
// restart patch is amended (with controlplane.NeverReadyLabel, which kwok
// honours).
func BreakOnRevision(namespace, name, rev string) interceptor.Funcs {
	return interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if obj.GetNamespace() != namespace || obj.GetName() != name || patch.Type() != "application/merge-patch+json" {
				return c.Patch(ctx, obj, patch, opts...)
			}
			data, err := patch.Data(obj)
			if err != nil {
				return err
			}
			var p map[string]any
			if err := json.Unmarshal(data, &p); err != nil {
				return err
			}
			meta := p["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
			var never any // JSON null removes the label
			if for_, _ := meta["annotations"].(map[string]any)[apply.RestartedForAnnotation].(string); strings.HasPrefix(for_, rev) {
				never = "true"
			}
			meta["labels"] = map[string]any{controlplane.NeverReadyLabel: never}
			data, _ = json.Marshal(p)
			return c.Patch(ctx, obj, client.RawPatch(patch.Type(), data), opts...)
		},
	}
}
