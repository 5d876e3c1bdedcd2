// Package armemu emulates the part of Azure Resource Manager that drives the
// AKS Istio service mesh add-on, for one subscription, resource group and
// managed cluster, so that meshops' `aks` revision provider is tested
// through the real Azure SDK (armcontainerservice/v6 v6.6.0, azidentity)
// with nothing but the local machine.
//
// # What it serves
//
// ARM, api-version 2025-02-01 (what the SDK sends), paths compared
// case-insensitively as ARM does:
//
//	GET  /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}
//	PUT  (same)                                   the SDK's whole ManagedCluster; only serviceMeshProfile is acted on
//	GET  .../managedClusters/{name}/meshUpgradeProfiles[/istio]
//	GET  /subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/meshRevisionProfiles[/istio]
//	GET  /subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/operations/{id}
//
// A PUT is a long-running operation as ARM runs them (azcore's
// Azure-AsyncOperation poller): 200 with the resource in provisioningState
// Updating, an Azure-AsyncOperation header naming the operation, and
// Retry-After (plus retry-after-ms, which azcore prefers, for sub-second
// test intervals). The operation answers {"status":"InProgress"} until the
// change has really happened in the Mesh (the revision's istiod is ready, or
// its objects and process are gone), then "Succeeded", or "Failed" with
// {"error":{"code","message"}}; the resource's provisioningState follows.
// The SDK then GETs the resource. A PUT while an operation runs gets 409
// OperationNotAllowed, the code AKS documents for "Another operation is in
// progress"
// (https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/operationnotallowed).
//
// The add-on's rules (https://learn.microsoft.com/azure/aks/istio-upgrade),
// refused with 400 BadRequest "Requested change in revisions is not
// allowed. Reason: ..." as AKS words it: at most two revisions; enabling
// the mesh installs one revision the location's meshRevisionProfiles offer
// for the cluster's Kubernetes version (none named: the newest compatible);
// a second revision starts a canary and must be one of the current
// revision's upgrades (n+1, n+2 as configured, compatible with the
// cluster); with two installed only [new] (complete) or [old] (rollback).
// meshUpgradeProfiles lists the stable (older) revision's upgrades; with
// the mesh disabled the list is empty.
//
// Entra ID, enough for azidentity's real credentials:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	POST /{tenant}/oauth2/v2.0/token     client_credentials with client_secret, or
//	                                     client_assertion (workload identity's federated token)
//
// It issues opaque tokens and ARM accepts only those: no token is 401
// AuthenticationFailed, an unknown one 401 InvalidAuthenticationToken, an
// expired one 401 ExpiredAuthenticationToken, each with a WWW-Authenticate
// Bearer challenge. azidentity needs the emulator's URL as authority host
// (ClientOptions.Cloud.ActiveDirectoryAuthorityHost or AZURE_AUTHORITY_HOST)
// AND DisableInstanceDiscovery: true, or MSAL asks the real
// login.microsoftonline.com whether the authority is known. The ARM client
// needs Cloud.Services[cloud.ResourceManager] = {Endpoint: URL, Audience:
// any}. Start serves HTTPS with a CA of its own written to a file (the SDK
// refuses bearer tokens over http): trust it with a transport whose
// RootCAs hold it (meshops: MESHOPS_ARM_CA_FILE, added to the system's).
//
// # Steering it
//
// From Go: Options (latency per Operation kind, installed revisions, the
// revision catalog, clients), and on a running emulator SetLatency,
// FailNextOperation (the next operation ends Failed without touching the
// mesh), FailRequests (the next N ARM requests, optionally of one method,
// answer 500 or another status with ARM's code for it: 403
// AuthorizationFailed naming the action, 429 TooManyRequests with
// Retry-After, 503 ServiceUnavailable; or have their connection reset), Requests
// (the log of method, path and status, e.g. to prove there was no second
// PUT after a restart) and Installed.
//
// From outside (the dev cluster, `make cluster-up MESH=aks`), on the same
// listener and without a token (it binds 127.0.0.1 only):
//
//	POST /_emulator/faults    {"requests":[{"count":2,"status":500,"method":"PUT"},{"count":1,"drop":true}],
//	                           "operation":{"code":"ServiceMeshUpgradeFailed","message":"..."},
//	                           "latency":{"canary":"30s","complete":"10s"}}
//	GET  /_emulator/requests  the request log as JSON
//	GET  /_emulator/state     mode, revisions in the resource, revisions really installed, provisioningState
//
// Latency kinds: install, canary, complete, rollback, disable, update.
//
// # What it cannot prove
//
// It is written from the SDK's models and the public AKS documentation, not
// from AKS: real ARM authentication and RBAC (tokens are opaque, any
// scope's token works, role assignments such as
// Microsoft.ContainerService/managedClusters/write are not checked), real
// AKS timings (minutes per operation) and throttling (429s with their
// Retry-After), regional availability of revisions beyond the configured
// catalog, the exact error codes and messages of the rule refusals (only
// their status and prefix are documented), what AKS does with any other
// property of the PUT (ignored, except that location and
// kubernetesVersion must match), Kubernetes upgrades and their effect on
// the mesh, operations other than the mesh's (start/stop, node pools,
// abort), the add-on's internals (the managed istiod's real Deployment,
// HPA and PDB, the managed ingress and egress gateways, the add-on's own
// mesh ConfigMap handling), patch upgrades AKS rolls out by itself, and
// ARM's asynchronous consistency (a GET right after a PUT here always sees
// it).
package armemu
