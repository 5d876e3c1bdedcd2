package configs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	openapivalidate "k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/test/crds"
)

// crdVerdict is what the API server's own schema code says of a document:
// the fields pruning drops and the errors of OpenAPI validation (without
// CEL rules), as a server with strict field validation refuses them.
func crdVerdict(t *testing.T, all []*apiextensionsv1.CustomResourceDefinition, doc string) []string {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(c *apiextensionsv1.CustomResourceDefinition) bool {
		return c.Spec.Group == gv.Group && c.Spec.Names.Kind == kind
	})
	if i < 0 {
		t.Fatalf("no CRD for %s", apiVersion)
	}
	j := slices.IndexFunc(all[i].Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Name == gv.Version })
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(all[i].Spec.Versions[j].Schema.OpenAPIV3Schema, internal, nil); err != nil {
		t.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatal(err)
	}
	// apiextensions' own validator would pull k8s.io/apiserver into the
	// module for a test; it runs kube-openapi's, as this does.
	raw, err := json.Marshal(all[i].Spec.Versions[j].Schema.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	openapi := &spec.Schema{}
	if err := json.Unmarshal(raw, openapi); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range openapivalidate.NewSchemaValidator(openapi, nil, "", strfmt.Default).Validate(obj).Errors {
		out = append(out, e.Error())
	}
	for _, p := range pruning.PruneWithOptions(obj, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		out = append(out, "unknown field "+p)
	}
	return out
}

// Every manifest the offline check refuses, the API server refuses too,
// and the valid ones it accepts: meshops is never stricter than the CRDs.
func TestSchemaCasesAgreeWithTheAPIServersValidation(t *testing.T) {
	all, err := crds.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range schemaCases {
		// ConfigMaps have no CRD, and the server checks metadata against
		// ObjectMeta, as meshops does, not against the CRD.
		if strings.HasPrefix(tt.file, "apiVersion: v1\n") || strings.HasPrefix(tt.want[0].field, "metadata.") {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			got := crdVerdict(t, all, tt.file)
			t.Log(got)
			// A oneof is refused at the object holding it.
			field := tt.want[0].field
			parent := field[:max(strings.LastIndexByte(field, '.'), 0)]
			if !slices.ContainsFunc(got, func(e string) bool {
				return strings.Contains(e, field+" ") || strings.Contains(e, `"`+parent+`"`) || strings.HasSuffix(e, field)
			}) {
				t.Errorf("the CRD does not refuse %s, which meshops refuses", field)
			}
		})
	}
	valid := append(strings.Split(sameNameGateways, "---\n"), strings.Split(goodRepo["mesh/app.yaml"], "---\n")[1:]...)
	for _, glob := range []string{"examples/aro-hcp-dev/mesh/*.yaml", filepath.Join(fixtureDir(t), "mesh", "*.yaml")} {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("no manifests match %s: %v", glob, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range splitDocuments(string(data)) {
				if !strings.Contains(c.text, "\nkind: ConfigMap") {
					valid = append(valid, c.text)
				}
			}
		}
	}
	for _, doc := range valid {
		if got := crdVerdict(t, all, doc); len(got) > 0 {
			t.Errorf("the CRD refuses a manifest meshops accepts: %v\n%s", got, doc)
		}
	}
	t.Logf("%d valid manifests accepted by the CRDs", len(valid))
}

// The shapes meshops checks offline are built from the Go and protobuf types
// the CRDs are generated from. This test holds them against the CRDs
// themselves (read from the module cache, as the API server tests install
// them): every field, type and enum value a CRD accepts must be accepted
// offline, or a valid manifest would be refused. The reverse (accepted
// offline, refused by the CRD: the Gateway API's experimental fields are in
// its Go types but not in the standard CRDs) is logged; the server-side dry
// run refuses those.
func TestSchemasAcceptWhatTheCRDsAccept(t *testing.T) {
	all, err := crds.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, mk := range managedKinds {
		if mk.group == "" {
			continue
		}
		i := slices.IndexFunc(all, func(c *apiextensionsv1.CustomResourceDefinition) bool {
			return c.Spec.Group == mk.group && c.Spec.Names.Kind == mk.kind
		})
		if i < 0 {
			t.Errorf("no CRD for %s.%s", mk.kind, mk.group)
			continue
		}
		for _, v := range mk.versions {
			j := slices.IndexFunc(all[i].Spec.Versions, func(cv apiextensionsv1.CustomResourceDefinitionVersion) bool { return cv.Name == v })
			if j < 0 || !all[i].Spec.Versions[j].Served {
				t.Errorf("%s.%s: the CRD does not serve version %s", mk.kind, mk.group, v)
				continue
			}
			root := all[i].Spec.Versions[j].Schema.OpenAPIV3Schema
			id := mk.kind + "." + mk.group + "/" + v
			s := mk.schema()
			for _, top := range []string{"apiVersion", "kind", "metadata", "spec", "status"} {
				if _, inCRD := root.Properties[top]; inCRD && s.fields[top] == nil {
					t.Errorf("%s: %s is in the CRD, not in meshops' schema", id, top)
				}
			}
			spec := root.Properties["spec"]
			compareSchema(t, id, "spec", &spec, s.fields["spec"])
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("checked %d kind versions, want every managed one", checked)
	}
}

// compareSchema reports where s is stricter than the CRD's schema c.
func compareSchema(t *testing.T, id, path string, c *apiextensionsv1.JSONSchemaProps, s *shape) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s: "+format, append([]any{id, path}, args...)...)
	}
	switch {
	case s == nil:
		fail("no schema")
		return
	case s.typ == anyValue:
		return
	case c.XIntOrString:
		if s.typ != intOrStringValue {
			fail("the CRD takes an int or a string, meshops type %d", s.typ)
		}
		return
	case c.XPreserveUnknownFields != nil && *c.XPreserveUnknownFields && len(c.Properties) == 0:
		fail("the CRD takes any value, meshops type %d", s.typ)
		return
	}
	switch c.Type {
	case "object":
		switch {
		case c.AdditionalProperties != nil && c.AdditionalProperties.Schema != nil:
			if s.typ != mapValue {
				fail("the CRD takes a map, meshops type %d", s.typ)
				return
			}
			compareSchema(t, id, path+".*", c.AdditionalProperties.Schema, s.elem)
		default:
			if s.typ != objectValue {
				fail("the CRD takes an object, meshops type %d", s.typ)
				return
			}
			for name, sub := range c.Properties {
				if s.fields[name] == nil {
					fail("the CRD has field %s, meshops does not", name)
					continue
				}
				compareSchema(t, id, path+"."+name, &sub, s.fields[name])
			}
			for _, name := range s.names {
				if _, ok := c.Properties[name]; !ok {
					t.Logf("%s: %s.%s: accepted offline, not in the CRD", id, path, name)
				}
			}
		}
	case "array":
		if s.typ != listValue {
			fail("the CRD takes a list, meshops type %d", s.typ)
			return
		}
		if c.Items != nil && c.Items.Schema != nil {
			compareSchema(t, id, path+"[]", c.Items.Schema, s.elem)
		}
	case "string":
		if s.typ != stringValue && s.typ != intOrStringValue {
			fail("the CRD takes a string, meshops type %d", s.typ)
			return
		}
		if len(s.enum) == 0 {
			return
		}
		for _, raw := range c.Enum {
			var v string
			if err := json.Unmarshal(raw.Raw, &v); err != nil {
				fail("enum value %s: %v", raw.Raw, err)
				continue
			}
			if !slices.Contains(s.enum, v) {
				fail("the CRD allows %q, meshops only %v", v, s.enum)
			}
		}
		if len(c.Enum) == 0 {
			fail("the CRD takes any string, meshops only %v", s.enum)
		}
	case "integer":
		if s.typ != integerValue && s.typ != numberValue && s.typ != intOrStringValue {
			fail("the CRD takes an integer, meshops type %d", s.typ)
		}
	case "number":
		if s.typ != numberValue {
			fail("the CRD takes a number, meshops type %d", s.typ)
		}
	case "boolean":
		if s.typ != booleanValue {
			fail("the CRD takes a boolean, meshops type %d", s.typ)
		}
	case "":
		// anyOf/oneOf alone: checked only by the server.
	default:
		fail("unknown CRD type %q", c.Type)
	}
}
