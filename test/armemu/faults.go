package armemu

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RequestFault makes the next Count ARM requests (those of Method, or all
// when Method is "") fail: with Status (default 500) and an ARM error body,
// or, with Drop, by closing the connection without an answer. The token
// endpoint is never faulted: ARM is the part under test.
type RequestFault struct {
	Count  int    `json:"count"`
	Status int    `json:"status,omitempty"`
	Drop   bool   `json:"drop,omitempty"`
	Method string `json:"method,omitempty"`
}

// OperationFault makes the next accepted operation end Failed with this
// error after its latency, without changing the mesh.
type OperationFault struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type faults struct {
	requests  []RequestFault
	operation *OperationFault
}

// FailRequests queues a request fault; faults queued earlier apply first.
func (e *Emulator) FailRequests(f RequestFault) {
	if f.Status == 0 && !f.Drop {
		f.Status = http.StatusInternalServerError
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if f.Count > 0 {
		e.faults.requests = append(e.faults.requests, f)
	}
}

// FailNextOperation makes the next accepted PUT's operation end Failed
// with code and message (defaults when empty).
func (e *Emulator) FailNextOperation(f OperationFault) {
	if f.Code == "" {
		f.Code = "InternalOperationError"
	}
	if f.Message == "" {
		f.Message = "Emulated failure injected by the test: the service mesh operation failed."
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.operation = &f
}

type appliedFault struct {
	drop   bool
	status int
}

// takeFault consumes the first queued request fault that matches r.
func (e *Emulator) takeFault(r *http.Request) appliedFault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.faults.requests {
		f := &e.faults.requests[i]
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		f.Count--
		out := appliedFault{drop: f.Drop, status: f.Status}
		if f.Count <= 0 {
			e.faults.requests = slices.Delete(e.faults.requests, i, i+1)
		}
		return out
	}
	return appliedFault{}
}

// faultError is the answer ARM gives with status: the code and message
// it uses for it, so a client's handling of each can be tested. 403 names
// the action a role assignment would have to allow.
func (e *Emulator) faultError(w http.ResponseWriter, r *http.Request, status int) *armError {
	const injected = " (emulated failure injected by the test)"
	switch status {
	case http.StatusForbidden:
		client := "unknown"
		if len(e.opts.Clients) > 0 {
			client = e.opts.Clients[0].ID
		}
		action := "Microsoft.ContainerService/managedClusters/read"
		if r.Method == http.MethodPut {
			action = "Microsoft.ContainerService/managedClusters/write"
		}
		return &armError{Status: status, Code: "AuthorizationFailed", Message: fmt.Sprintf(
			"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.%s",
			client, client, action, r.URL.Path, injected)}
	case http.StatusTooManyRequests:
		e.setRetryAfter(w)
		return &armError{Status: status, Code: "TooManyRequests", Message: "The request is being throttled." + injected}
	case http.StatusServiceUnavailable:
		return &armError{Status: status, Code: "ServiceUnavailable", Message: "The service is unavailable, please retry." + injected}
	case http.StatusInternalServerError:
		return &armError{Status: status, Code: "InternalServerError", Message: "The server encountered an internal error. Please retry the request." + injected}
	}
	return &armError{Status: status, Code: strings.ReplaceAll(http.StatusText(status), " ", ""), Message: "Injected status " + strconv.Itoa(status) + injected}
}

// takeOperation consumes the operation fault; the caller holds e.mu.
func (f *faults) takeOperation() *armError {
	if f.operation == nil {
		return nil
	}
	o := f.operation
	f.operation = nil
	return &armError{Code: o.Code, Message: o.Message}
}

// dropConnection closes the client's connection without an answer, as a
// reset load balancer or a dying front end would.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	var raw net.Conn = conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	// A reset, not an orderly close: the client sees the connection die.
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// Request is one entry of the request log.
type Request struct {
	Method string `json:"method"`
	// Path is the URL path, without the query.
	Path string `json:"path"`
	// Status is the answer's status code; 0 when the connection was dropped.
	Status  int  `json:"status"`
	Dropped bool `json:"dropped,omitempty"`
}

// Requests returns every ARM and token request served so far, in order.
// The admin endpoint's own requests are not logged.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

func (e *Emulator) logRequest(r *http.Request) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests = append(e.requests, Request{Method: r.Method, Path: r.URL.Path})
	return len(e.requests) - 1
}

func (e *Emulator) logStatus(i int, rec *recorder) {
	status := rec.status
	if status == 0 && !rec.dropped {
		status = http.StatusOK
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests[i].Status, e.requests[i].Dropped = status, rec.dropped
}

// recorder remembers the status code written through it.
type recorder struct {
	http.ResponseWriter
	status  int
	dropped bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// adminPrefix is where the emulator is steered from outside Go (the dev
// cluster): see the package documentation.
const adminPrefix = "/_emulator/"

// AdminFaults is the body of POST /_emulator/faults. Latency values are Go
// durations ("30s").
type AdminFaults struct {
	Requests  []RequestFault       `json:"requests,omitempty"`
	Operation *OperationFault      `json:"operation,omitempty"`
	Latency   map[Operation]string `json:"latency,omitempty"`
}

// AdminState is the body of GET /_emulator/state.
type AdminState struct {
	Mode              string   `json:"mode"`
	Revisions         []string `json:"revisions"`
	Installed         []string `json:"installed"`
	ProvisioningState string   `json:"provisioningState"`
	Running           string   `json:"running,omitempty"`
}

func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, format string, args ...any) {
		http.Error(w, fmt.Sprintf(format, args...), status)
	}
	switch strings.TrimPrefix(r.URL.Path, adminPrefix) {
	case "faults":
		if r.Method != http.MethodPost {
			fail(http.StatusMethodNotAllowed, "POST a JSON AdminFaults to %sfaults", adminPrefix)
			return
		}
		var f AdminFaults
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			fail(http.StatusBadRequest, "faults: %v (fields: requests[{count,status,drop,method}], operation{code,message}, latency{install|canary|complete|rollback|disable|update: duration})", err)
			return
		}
		lat := map[Operation]time.Duration{}
		for op, s := range f.Latency {
			if !slices.Contains(operations, op) {
				fail(http.StatusBadRequest, "faults: latency.%s: no such operation (want one of %v)", op, operations)
				return
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				fail(http.StatusBadRequest, "faults: latency.%s: %v (want a Go duration such as 30s)", op, err)
				return
			}
			lat[op] = d
		}
		for op, d := range lat {
			e.SetLatency(op, d)
		}
		for _, rf := range f.Requests {
			e.FailRequests(rf)
		}
		if f.Operation != nil {
			e.FailNextOperation(*f.Operation)
		}
		w.WriteHeader(http.StatusNoContent)
	case "requests":
		writeJSON(w, http.StatusOK, e.Requests())
	case "state":
		e.mu.Lock()
		st := AdminState{Mode: e.spec.Mode, Revisions: nonNil(slices.Clone(e.spec.Revisions)), Installed: nonNil(slices.Clone(e.installed)), ProvisioningState: e.provisioning}
		if e.running != nil {
			st.Running = string(e.running.Op)
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	default:
		fail(http.StatusNotFound, "the admin endpoint serves %sfaults, %srequests and %sstate", adminPrefix, adminPrefix, adminPrefix)
	}
}
