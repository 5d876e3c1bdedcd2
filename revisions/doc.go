// Package revisions decides what to do with the Istio control-plane
// revisions a provider installs (the AKS add-on: serviceMeshProfile.istio.revisions),
// without doing any of it.
//
// A provider observes a State; the config and the cluster's in-cluster facts
// give a Desired; Decide returns one Decision: install, canary start,
// complete, roll back, consolidate, wait for or resume an operation, or
// block with what a person must decide. Decide is pure (no I/O, no clock:
// Desired.Now is an input), so every rule is a table case in decide_test.go.
// The AKS provider that observes and acts is package revisions/aks; the plan
// turns a Decision into its "revision" and "complete" steps.
package revisions
