// Package aks is the aks revision provider: it observes and sets the Istio
// revisions of an AKS managed cluster (serviceMeshProfile.istio.revisions)
// through Azure Resource Manager with the Azure SDK for Go
// (armcontainerservice/v6, azidentity).
//
// Observe reads the cluster, its mesh upgrade profiles and the location's
// mesh revision profiles into a revisions.State for revisions.Decide.
// SetRevisions starts the PUT that a Decision asks for and returns the
// operation as data (its resume token) for the caller to persist; Wait
// follows an operation to its end, after a restart too, so an operation in
// progress is resumed and never raced by a second PUT.
//
// See docs/revisions.md for how the cluster and the credentials are found
// and the Azure RBAC the identity needs.
package aks
