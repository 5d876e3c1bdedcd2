// Package crds loads the Istio and Gateway API CustomResourceDefinitions
// that meshops manages objects of, straight from their upstream Go modules
// in the module cache. The versions are the ones the istiod of
// hack/tools/istio is built with, so the schemas the tests validate against
// are those that istiod serves; no copy of the CRDs lives in this repository.
package crds

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/test/binaries"
)

// pinModule is the tool module whose go.mod pins the CRD modules' versions.
const pinModule = "hack/tools/istio"

// Source is one upstream module and the files in it that hold CRDs.
type Source struct {
	Module string
	// Glob patterns relative to the module root.
	Globs []string
}

var (
	Istio      = Source{Module: "istio.io/api", Globs: []string{"kubernetes/customresourcedefinitions.gen.yaml"}}
	GatewayAPI = Source{Module: "sigs.k8s.io/gateway-api", Globs: []string{"config/crd/standard/*.yaml"}}
)

// Load returns the CRDs of Istio and the standard Gateway API channel.
func Load(ctx context.Context) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var all []*apiextensionsv1.CustomResourceDefinition
	for _, src := range []Source{Istio, GatewayAPI} {
		got, err := src.Load(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	return all, nil
}

// Load reads the source's CRDs from the module cache, downloading the module
// through the Go module proxy when it is not there yet.
func (s Source) Load(ctx context.Context) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir, err := binaries.ModuleDir(ctx, pinModule, s.Module)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, g := range s.Globs {
		m, err := filepath.Glob(filepath.Join(dir, g))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no CRD files match %v in %s", s.Module, s.Globs, dir)
	}
	sort.Strings(files)
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		crds, err := readFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, crds...)
	}
	return out, nil
}

// readFile keeps only CustomResourceDefinition documents: the Gateway API
// folder also ships a ValidatingAdmissionPolicy.
func readFile(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*apiextensionsv1.CustomResourceDefinition
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if meta.Kind != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(doc, crd); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		out = append(out, crd)
	}
}
