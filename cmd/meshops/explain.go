package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
)

// errNoKubeconfig replaces client-go's "try setting KUBERNETES_MASTER",
// which names a variable nothing reads any more.
var errNoKubeconfig = errors.New("no kubeconfig found: pass --kubeconfig, set $KUBECONFIG, or create ~/.kube/config (kubectl config view shows what kubectl would use)")

// explainKubeconfig turns the kubeconfig loader's errors into what to do.
func explainKubeconfig(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return errNoKubeconfig
	}
	return fmt.Errorf("loading kubeconfig: %w", err)
}

// hint says, for the common ways a call to the API server fails, what the
// failure means and what to check; "" when there is nothing to add to the
// error itself. Checked in this order because a timeout can wrap a TLS
// error and a forbidden call is the clearest diagnosis of all.
func hint(err error) string {
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		verify    *tls.CertificateVerificationError
		netErr    net.Error
	)
	switch {
	case err == nil:
		return ""
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("forbidden: the kubeconfig's user lacks an RBAC permission on %s (the verb is in the server's message above); "+
			"meshops needs what deploy/rbac.yaml grants (kubectl auth can-i --list shows what the user has)", forbiddenResource(err))
	case apierrors.IsUnauthorized(err):
		return "unauthorized: the API server did not accept the kubeconfig's credentials (expired token or certificate?)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at the kubeconfig's server address; is the cluster up, and is --context the right one?"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "TLS: the API server's certificate is not trusted for this address; check the kubeconfig's certificate-authority-data and server"
	case errors.As(err, &record):
		return "TLS: the server at the kubeconfig's address does not speak TLS; is the address or port wrong?"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: the API server did not answer within --request-timeout, or the command ran past --timeout; raise the one that ended it, or check the server's health"
	}
	return ""
}

// forbiddenResource is the resource a forbidden answer is about, from the
// status details the API server sends with it.
func forbiddenResource(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if d := status.Status().Details; d != nil && d.Kind != "" {
			if d.Group != "" {
				return d.Kind + "." + d.Group
			}
			return d.Kind
		}
	}
	return "the resource the server names above"
}
