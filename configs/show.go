package configs

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/meshops/meshops/redact"
)

// shown is the document Show prints: what meshops resolved, in the words of
// meshops.yaml and svc.istio, so a reader can check it against the repo.
type shown struct {
	Settings  shownSettings   `json:"settings"`
	Istio     shownIstio      `json:"istio"`
	SvcIstio  any             `json:"svc.istio,omitempty"`
	Manifests []shownManifest `json:"manifests"`
}

type shownSettings struct {
	Values     []string   `json:"values"`
	Manifests  string     `json:"manifests"`
	Context    Context    `json:"context"`
	Extensions Extensions `json:"meshops"`
}

type shownIstio struct {
	Versions                    []string `json:"versions"`
	Shape                       string   `json:"shape"`
	ShapeMeaning                string   `json:"shapeMeaning"`
	Target                      string   `json:"targetVersion"`
	Tag                         string   `json:"tag"`
	IngressGatewayIPAddressName string   `json:"ingressGatewayIPAddressName,omitempty"`
	RegionRG                    string   `json:"regionRG,omitempty"`
	ExtensionProviders          []string `json:"extensionProviders,omitempty"`
}

type shownManifest struct {
	ID         string `json:"id"`
	APIVersion string `json:"apiVersion"`
	Source     string `json:"source"`
}

// Show renders the resolved configuration as YAML, for `meshops validate
// --show`: the settings in effect, what meshops read from svc.istio (and the
// svc.istio values as resolved), and every managed object with its source.
// Object contents are not shown: they are in the repo, and a ConfigMap could
// hold something that should not end up in a CI log. Values that look
// secret, by key or by value, are masked (package redact).
func Show(c *Config) ([]byte, error) {
	ext := c.Settings.Extensions
	out := shown{
		Settings: shownSettings{
			Values:     c.Settings.Values,
			Manifests:  c.Settings.Manifests,
			Context:    c.Settings.Context,
			Extensions: ext,
		},
		Istio: shownIstio{
			Versions:                    c.Istio.VersionNames(),
			Shape:                       string(c.Istio.Shape),
			ShapeMeaning:                c.Istio.Shape.Meaning(),
			Target:                      c.Istio.Target.Name,
			Tag:                         c.Istio.Tag,
			IngressGatewayIPAddressName: c.Istio.IngressGatewayIPAddressName,
			RegionRG:                    c.Istio.RegionRG,
			ExtensionProviders:          c.Istio.ExtensionProviders,
		},
		Manifests: []shownManifest{},
	}
	if svc, ok := c.Values["svc"].(map[string]any); ok {
		out.SvcIstio = svc["istio"]
	}
	for _, m := range c.Manifests {
		out.Manifests = append(out.Manifests, shownManifest{ID: m.ID(), APIVersion: m.GetAPIVersion(), Source: m.Source.String()})
	}
	// Through JSON to a tree, so that the one masking rule sees every
	// value (svc.istio holds whatever the values files put there) without
	// writing into c; sigs.k8s.io/yaml goes through JSON anyway.
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("show config: %w", err)
	}
	var tree map[string]any
	if err := json.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("show config: %w", err)
	}
	b, err := yaml.Marshal(redact.Tree("", tree))
	if err != nil {
		return nil, fmt.Errorf("show config: %w", err)
	}
	return b, nil
}
