// Package configs reads a meshops config repo: meshops.yaml (where things
// are and which cluster this is), the layered values file that carries
// svc.istio, and the Istio and Gateway API manifests under the manifests
// folder. It resolves them into a Config and checks meshops' own rules
// (validate.go), reporting every problem with its file, line and field.
//
// The package does no cluster I/O and knows nothing of the command line:
// callers pass Options, and the CLI maps its flags onto them.
package configs
