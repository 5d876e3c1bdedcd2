package aks

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/meshops/meshops/revisions"
)

// SetRevisions starts the change of the cluster's mesh revisions to revs
// (a Decision's Revisions; kind is its Kind, kept in the operation for
// messages) and returns once ARM accepted it. The returned operation holds
// the poller's resume token: persist it before calling Wait, so that a
// restarted meshops resumes the wait instead of sending a second PUT.
//
// The body is the cluster as just read with only serviceMeshProfile
// changed, never a partial body that would reset other fields, and the PUT
// carries the read's ETag (If-Match) so that a change made meanwhile is a
// ConflictError, not overwritten. With the mesh disabled, this enables it
// (mode Istio) with revs.
//
// Errors a caller branches on are typed: *InProgressError (409),
// *ConflictError (412), *NotAllowedError (400), *OperationFailedError.
func (c *Client) SetRevisions(ctx context.Context, kind revisions.Kind, revs []string) (revisions.Operation, error) {
	op := revisions.Operation{Kind: kind, Revisions: revs}
	if len(revs) == 0 {
		return op, fmt.Errorf("%s: set revisions: no revision given (AKS disables the mesh with mode Disabled, which meshops never asks for)", c.id)
	}
	resp, err := c.clusters.Get(ctx, c.opts.ResourceGroup, c.opts.Cluster, nil)
	if err != nil {
		return op, fmt.Errorf("%s: read the managed cluster before setting revisions: %w", c.id, describe(err, actionRead))
	}
	mc := resp.ManagedCluster
	if mc.Properties == nil {
		return op, fmt.Errorf("%s: the managed cluster has no properties: refusing to write it back", c.id)
	}
	sm := mc.Properties.ServiceMeshProfile
	if sm == nil {
		sm = &armcontainerservice.ServiceMeshProfile{}
		mc.Properties.ServiceMeshProfile = sm
	}
	sm.Mode = to.Ptr(armcontainerservice.ServiceMeshModeIstio)
	if sm.Istio == nil {
		sm.Istio = &armcontainerservice.IstioServiceMesh{}
	}
	sm.Istio.Revisions = to.SliceOfPtrs(revs...)

	opts := &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfMatch: mc.ETag}
	poller, err := c.clusters.BeginCreateOrUpdate(ctx, c.opts.ResourceGroup, c.opts.Cluster, mc, opts)
	if err != nil {
		return op, c.putError(revs, err)
	}
	if poller.Done() {
		// ARM finished at once (nothing to do): no operation to follow.
		if _, err := poller.Result(ctx); err != nil {
			return op, c.failed(op, err)
		}
		return op, nil
	}
	tok, err := poller.ResumeToken()
	if err != nil {
		return op, fmt.Errorf("%s: the %s operation started but cannot be resumed later: %w", c.id, kind, err)
	}
	op.ResumeToken = tok
	return op, nil
}

// putError types the refusal of a PUT.
func (c *Client) putError(revs []string, err error) error {
	status, code, msg, ok := armError(err)
	if !ok {
		return fmt.Errorf("%s: set revisions %v: %w", c.id, revs, err)
	}
	switch status {
	case http.StatusConflict:
		return &InProgressError{Cluster: c.id, Code: code, Message: msg}
	case http.StatusPreconditionFailed:
		return &ConflictError{Cluster: c.id, Message: msg}
	case http.StatusBadRequest:
		return &NotAllowedError{Cluster: c.id, Revisions: revs, Code: code, Message: msg}
	}
	return fmt.Errorf("%s: set revisions %v: %w", c.id, revs, describe(err, actionWrite))
}

// failed types the end of a failed operation.
func (c *Client) failed(op revisions.Operation, err error) error {
	if _, code, msg, ok := armError(err); ok {
		return &OperationFailedError{Cluster: c.id, Operation: op, Code: code, Message: msg}
	}
	return fmt.Errorf("%s: wait for the %s operation: %w", c.id, op.Kind, err)
}

// Wait follows op to its end, within Options.OperationTimeout. With a
// resume token it resumes the SDK's poller (after a restart too: no second
// PUT); without one (an operation meshops did not start, or a 409) it polls
// the cluster until its provisioning state settles. A failed operation is
// an *OperationFailedError with ARM's error code.
func (c *Client) Wait(ctx context.Context, op revisions.Operation) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.OperationTimeout)
	defer cancel()
	if op.ResumeToken == "" {
		return c.waitSettled(ctx, op)
	}
	poller, err := c.clusters.BeginCreateOrUpdate(ctx, c.opts.ResourceGroup, c.opts.Cluster, armcontainerservice.ManagedCluster{},
		&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{ResumeToken: op.ResumeToken})
	if err != nil {
		return fmt.Errorf("%s: resume the %s operation: %w", c.id, op.Kind, err)
	}
	// The SDK refuses to poll more often than once a second; ARM's
	// Retry-After, when it sends one, wins anyway.
	freq := max(c.opts.PollFrequency, time.Second)
	if _, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: freq}); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: the %s operation did not finish within %s: %w", c.id, op.Kind, c.opts.OperationTimeout, ctx.Err())
		}
		return c.failed(op, err)
	}
	return nil
}

// waitSettled polls the cluster until no operation runs on it.
func (c *Client) waitSettled(ctx context.Context, op revisions.Operation) error {
	t := time.NewTicker(c.opts.PollFrequency)
	defer t.Stop()
	for {
		resp, err := c.clusters.Get(ctx, c.opts.ResourceGroup, c.opts.Cluster, nil)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: the cluster did not settle within %s: %w", c.id, c.opts.OperationTimeout, ctx.Err())
			}
			return fmt.Errorf("%s: read the managed cluster: %w", c.id, describe(err, actionRead))
		}
		state := ""
		if p := resp.Properties; p != nil {
			state = deref(p.ProvisioningState)
		}
		switch state {
		case revisions.ProvisioningSucceeded:
			return nil
		case revisions.ProvisioningFailed, revisions.ProvisioningCanceled:
			return &OperationFailedError{Cluster: c.id, Operation: op, Code: state,
				Message: "the cluster's provisioning state is " + state + " (ARM keeps the error with the operation, not the cluster)"}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the cluster is still %s after %s: %w", c.id, state, c.opts.OperationTimeout, ctx.Err())
		case <-t.C:
		}
	}
}
