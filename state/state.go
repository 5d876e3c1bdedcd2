package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/revisions"
)

// Defaults for Store.
const (
	DefaultNamespace = "meshops-system"
	DefaultName      = "meshops-state"

	recordKey    = "record.json"
	inventoryKey = "inventory.gz"
)

// Result of the last run.
type Result string

const (
	ResultSucceeded  Result = "succeeded"
	ResultFailed     Result = "failed"
	ResultRolledBack Result = "rolled back"
	ResultBlocked    Result = "blocked"
	// ResultSuspended: the run planned and reported, and applied nothing
	// because the cluster is suspended.
	ResultSuspended Result = "suspended"
	// ResultNoop: the run planned and had nothing to apply, or was asked
	// only to report.
	ResultNoop Result = "noop"
)

// Record is meshops' memory of one cluster.
type Record struct {
	// LastAppliedCommit is the config commit the cluster last converged to.
	// A plan at the same commit that still finds object changes is drift.
	LastAppliedCommit string `json:"lastAppliedCommit,omitempty"`
	LastResult        Result `json:"lastResult,omitempty"`
	LastError         string `json:"lastError,omitempty"`
	// LastRun is when the last run ended; NextRun when the loop runs next.
	LastRun time.Time `json:"lastRun,omitzero"`
	NextRun time.Time `json:"nextRun,omitzero"`
	// Suspended stops the loop from acting; it still plans and reports.
	Suspended bool `json:"suspended,omitempty"`
	// SourceError is why the config repo could not be fetched, since
	// SourceErrorSince, while meshops keeps enforcing the last commit it
	// fetched; empty once fetching works again.
	SourceError      string    `json:"sourceError,omitempty"`
	SourceErrorSince time.Time `json:"sourceErrorSince,omitzero"`
	// BadRevisions failed a rollout and were rolled back, by revision.
	BadRevisions map[string]BadRevision `json:"badRevisions,omitempty"`
	// Progress is the rollout under way, or the last one.
	Progress *Progress `json:"progress,omitempty"`
	// Revisions is what meshops keeps of the revisions it drives itself
	// (meshops.revisions.provider aks).
	Revisions *Revisions `json:"revisions,omitempty"`
	// Inventory is every object meshops applied from git. It is stored
	// compressed beside the record: 10,000 policies would otherwise come
	// close to a ConfigMap's 1 MiB limit.
	Inventory object.ObjMetadataSet `json:"-"`
}

// BadRevision is a revision whose rollout failed and was rolled back. The
// loop does not try it again on its own: only a new commit, or a sync with
// --retry-bad-revision, does, so one bad release does not restart the
// whole mesh back and forth every few minutes.
type BadRevision struct {
	Commit string    `json:"commit"`
	Error  string    `json:"error"`
	Time   time.Time `json:"time"`
}

// Revisions is what the aks provider needs to remember across runs.
type Revisions struct {
	// Operation is an operation on the revisions meshops started and has
	// not seen end: a run after a crash follows it again (its resume
	// token) and never sends a second request.
	Operation *revisions.Operation `json:"operation,omitempty"`
	// CanaryStarted is when the canary now installed started, for the soak
	// before it is completed (meshops.revisions.completeAfter).
	CanaryStarted time.Time `json:"canaryStarted,omitzero"`
}

// Progress is the rollout under way.
type Progress struct {
	Commit string `json:"commit"`
	// PlanDigest identifies the plan being executed.
	PlanDigest string `json:"planDigest"`
	From       string `json:"from,omitempty"`
	Target     string `json:"target"`
	// Step is the index of the step reached in the plan, and StepTarget
	// what it touches, for people reading the record.
	Step       int       `json:"step"`
	StepTarget string    `json:"stepTarget,omitempty"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished,omitzero"`
	// Restarted are the workloads restarted onto Target by this rollout, in
	// order, so a rollback can return them in reverse.
	Restarted []ref.Workload `json:"restarted,omitempty"`
}

// Store reads and writes the record in a ConfigMap.
type Store struct {
	Client client.Client
	// Namespace and Name of the ConfigMap; defaults DefaultNamespace and
	// DefaultName.
	Namespace, Name string
}

// Key is the record's ConfigMap, for a caller that watches it.
func (s *Store) Key() client.ObjectKey { return s.key() }

func (s *Store) key() client.ObjectKey {
	ns, name := s.Namespace, s.Name
	if ns == "" {
		ns = DefaultNamespace
	}
	if name == "" {
		name = DefaultName
	}
	return client.ObjectKey{Namespace: ns, Name: name}
}

// Load returns the record; an empty one when none was written yet.
func (s *Store) Load(ctx context.Context) (*Record, error) {
	var cm corev1.ConfigMap
	err := s.Client.Get(ctx, s.key(), &cm)
	if apierrors.IsNotFound(err) {
		return &Record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state ConfigMap %s: %w", s.key(), err)
	}
	return decode(&cm)
}

// Update reads the record, lets change edit it, and writes it back,
// retrying when another writer got there first. It creates the ConfigMap,
// and its namespace, on first use.
func (s *Store) Update(ctx context.Context, change func(*Record)) (*Record, error) {
	key := s.key()
	for attempt := 0; ; attempt++ {
		var cm corev1.ConfigMap
		err := s.Client.Get(ctx, key, &cm)
		exists := err == nil
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading state ConfigMap %s: %w", key, err)
		}
		rec := &Record{}
		if exists {
			if rec, err = decode(&cm); err != nil {
				return nil, err
			}
		}
		change(rec)
		if err := encode(rec, &cm); err != nil {
			return nil, err
		}
		if exists {
			err = s.Client.Update(ctx, &cm)
		} else {
			cm.Namespace, cm.Name = key.Namespace, key.Name
			cm.Labels = map[string]string{"app.kubernetes.io/name": "meshops", "app.kubernetes.io/component": "state"}
			if err = s.ensureNamespace(ctx, key.Namespace); err == nil {
				err = s.Client.Create(ctx, &cm)
			}
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("writing state ConfigMap %s: %w", key, err)
		}
		return rec, nil
	}
}

// UpdateFrom is Update starting from cm, the record's ConfigMap as a
// watch of it last delivered it, with or without the inventory: one
// request instead of a read and a write, a merge patch of the record alone
// with cm's resourceVersion as its precondition. When cm is nil or someone
// wrote the record since, it is Update. It returns the ConfigMap as
// written (without the inventory), for the next call; nil after Update.
// The record it returns and gives change holds no inventory.
func (s *Store) UpdateFrom(ctx context.Context, cm *corev1.ConfigMap, change func(*Record)) (*Record, *corev1.ConfigMap, error) {
	key := s.key()
	if cm != nil && cm.ResourceVersion != "" {
		rec, err := decode(cm)
		if err != nil {
			return nil, nil, err
		}
		change(rec)
		raw, err := encodeRecord(rec)
		if err != nil {
			return nil, nil, err
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": cm.ResourceVersion},
			"data":     map[string]string{recordKey: raw},
		})
		if err != nil {
			return nil, nil, err
		}
		written := &corev1.ConfigMap{}
		written.Namespace, written.Name = key.Namespace, key.Name
		err = s.Client.Patch(ctx, written, client.RawPatch(types.MergePatchType, patch))
		if err == nil {
			written.BinaryData, written.ManagedFields = nil, nil
			return rec, written, nil
		}
		// A conflict or a missing record is what Update handles; a
		// forbidden patch is RBAC written before meshops patched its
		// record (get and update only): the record must still be written.
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			return nil, nil, fmt.Errorf("writing state ConfigMap %s: %w", key, err)
		}
	}
	rec, err := s.Update(ctx, change)
	return rec, nil, err
}

// UpdateExisting is Update on a record that exists; it writes nothing, and
// returns nil, when none does. A failure before meshops ever applied
// anything (a broken first commit) leaves the cluster untouched.
func (s *Store) UpdateExisting(ctx context.Context, change func(*Record)) (*Record, error) {
	var cm corev1.ConfigMap
	err := s.Client.Get(ctx, s.key(), &cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state ConfigMap %s: %w", s.key(), err)
	}
	return s.Update(ctx, change)
}

// ensureNamespace creates meshops' namespace when it is missing; in a
// cluster the deploy manifests create it and meshops has no right to.
func (s *Store) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns); err == nil {
		return nil
	}
	if err := s.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s for meshops' state: %w", name, err)
	}
	return nil
}

// Decode reads the record from its ConfigMap as a watch delivers it; the
// inventory is left empty when the ConfigMap comes without it.
func Decode(cm *corev1.ConfigMap) (*Record, error) { return decode(cm) }

func decode(cm *corev1.ConfigMap) (*Record, error) {
	rec := &Record{}
	if raw := cm.Data[recordKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), rec); err != nil {
			return nil, fmt.Errorf("state ConfigMap %s/%s: %s is not a meshops record: %w", cm.Namespace, cm.Name, recordKey, err)
		}
	}
	// A record written before masking existed is masked when read, so
	// status never shows what an older meshops stored.
	mask(rec)
	if gz := cm.BinaryData[inventoryKey]; len(gz) > 0 {
		r, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("state ConfigMap %s/%s: %s: %w", cm.Namespace, cm.Name, inventoryKey, err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("state ConfigMap %s/%s: %s: %w", cm.Namespace, cm.Name, inventoryKey, err)
		}
		for line := range strings.Lines(string(data)) {
			id, err := object.ParseObjMetadata(strings.TrimSpace(line))
			if err != nil {
				return nil, fmt.Errorf("state ConfigMap %s/%s: inventory entry %q: %w", cm.Namespace, cm.Name, line, err)
			}
			rec.Inventory = append(rec.Inventory, id)
		}
	}
	return rec, nil
}

// mask puts the record's free text through the one masking rule: an
// error can quote a git URL with a token, a header or a config line, and
// the record is readable by anyone who may read ConfigMaps in meshops'
// namespace.
func mask(rec *Record) {
	rec.LastError = redact.Text(rec.LastError)
	rec.SourceError = redact.Text(rec.SourceError)
	for rev, b := range rec.BadRevisions {
		b.Error = redact.Text(b.Error)
		rec.BadRevisions[rev] = b
	}
}

// encodeRecord is the record as its ConfigMap key holds it, masked.
func encodeRecord(rec *Record) (string, error) {
	mask(rec)
	raw, err := json.MarshalIndent(rec, "", "  ")
	return string(raw), err
}

func encode(rec *Record, cm *corev1.ConfigMap) error {
	raw, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[recordKey] = raw
	ids := make([]string, len(rec.Inventory))
	for i, id := range rec.Inventory {
		ids[i] = id.String()
	}
	slices.Sort(ids)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if cm.BinaryData == nil {
		cm.BinaryData = map[string][]byte{}
	}
	cm.BinaryData[inventoryKey] = buf.Bytes()
	return nil
}
