package mesh

import "strings"

// SharedConfigMapPrefix starts the name of the per-revision ConfigMap the AKS
// Istio add-on merges into each revision's mesh config
// (istio-shared-configmap-asm-1-29). Its "mesh" key holds mesh config YAML,
// e.g. extensionProviders for ext-authz.
const SharedConfigMapPrefix = "istio-shared-configmap-"

// SharedConfigMapMeshKey is the data key holding the mesh config YAML.
const SharedConfigMapMeshKey = "mesh"

// RevisionLabel is the label that binds namespaces, webhooks and ConfigMaps
// to a revision or tag.
const RevisionLabel = "istio.io/rev"

// SharedConfigMapName returns the shared ConfigMap name of a revision.
func SharedConfigMapName(rev string) string { return SharedConfigMapPrefix + rev }

// RevisionOfSharedConfigMap returns the revision a shared ConfigMap belongs
// to, and false when name is not a shared ConfigMap name.
func RevisionOfSharedConfigMap(name string) (string, bool) {
	rev, ok := strings.CutPrefix(name, SharedConfigMapPrefix)
	if !ok || rev == "" {
		return "", false
	}
	return rev, true
}
