package aks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/meshops/meshops/revisions"
)

// InProgressError is a PUT refused because another operation runs on the
// cluster (409): wait for it (Wait with an Operation without a token polls
// the cluster) and decide again; never retry the PUT at once.
type InProgressError struct {
	Cluster string
	Code    string // e.g. OperationNotAllowed
	Message string
}

func (e *InProgressError) Error() string {
	return fmt.Sprintf("%s: another operation is in progress (%s): %s", e.Cluster, e.Code, e.Message)
}

// ConflictError is a PUT refused because the cluster changed since it was
// read (412 on If-Match): observe again and decide again.
type ConflictError struct {
	Cluster string
	Message string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: the cluster changed since it was read: %s", e.Cluster, e.Message)
}

// NotAllowedError is a revision change AKS refuses (400): a revision that
// is not available to the cluster, more than two revisions, a change AKS's
// canary rules do not allow.
type NotAllowedError struct {
	Cluster   string
	Revisions []string
	Code      string
	Message   string
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("%s: AKS refused revisions [%s] (%s): %s", e.Cluster, strings.Join(e.Revisions, ", "), e.Code, e.Message)
}

// OperationFailedError is an operation that ended Failed or Canceled, with
// ARM's error code.
type OperationFailedError struct {
	Cluster   string
	Operation revisions.Operation
	Code      string
	Message   string
}

func (e *OperationFailedError) Error() string {
	what := "the operation"
	if e.Operation.Kind != "" {
		what = "the " + string(e.Operation.Kind) + " operation"
	}
	if len(e.Operation.Revisions) > 0 {
		what += " to [" + strings.Join(e.Operation.Revisions, ", ") + "]"
	}
	return fmt.Sprintf("%s: %s failed (%s): %s", e.Cluster, what, e.Code, e.Message)
}

// armError reads ARM's error code and message out of an SDK error. The
// SDK's own Error() spans many lines with the request; meshops shows the
// code and message only.
func armError(err error) (status int, code, msg string, ok bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return 0, "", "", false
	}
	code, msg = re.ErrorCode, http.StatusText(re.StatusCode)
	if re.RawResponse != nil {
		if body, perr := runtime.Payload(re.RawResponse); perr == nil {
			if c, m := errorBody(body); m != "" {
				msg = m
				if code == "" {
					code = c
				}
			}
		}
	}
	if code == "" {
		code = http.StatusText(re.StatusCode)
	}
	return re.StatusCode, code, msg, true
}

// errorBody reads ARM's {"error":{"code","message"}}, also inside an
// operation status ({"status":"Failed","error":{…}}).
func errorBody(body []byte) (code, msg string) {
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil || b.Error == nil {
		return "", ""
	}
	return b.Error.Code, b.Error.Message
}
