package reconcile

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshops/meshops/plan"
)

// Metrics are meshops' Prometheus metrics, in the meshops_ namespace and
// named the way Flux's controllers name theirs (a duration histogram and
// counters by result, info gauges carrying a label).
type Metrics struct {
	ReconcileDuration *prometheus.HistogramVec
	Reconciles        *prometheus.CounterVec
	LastAppliedCommit *prometheus.GaugeVec
	TagRevision       *prometheus.GaugeVec
	Workloads         *prometheus.GaugeVec
	Restarts          *prometheus.CounterVec
	DriftDetected     prometheus.Counter
	StepsPending      *prometheus.GaugeVec
	GitFetchDuration  prometheus.Histogram
	GitFetchErrors    prometheus.Counter
	WebhookRequests   *prometheus.CounterVec
	Suspended         prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ReconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "meshops", Name: "reconcile_duration_seconds",
			Help:    "Duration of one reconcile (fetch, plan, apply), by result.",
			Buckets: []float64{0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800},
		}, []string{"result"}),
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meshops", Name: "reconcile_total", Help: "Reconciles, by result.",
		}, []string{"result"}),
		LastAppliedCommit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meshops", Name: "last_applied_commit_info", Help: "The config commit the cluster last converged to (value 1).",
		}, []string{"commit"}),
		TagRevision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meshops", Name: "tag_revision_info", Help: "The revision the tag points at (value 1).",
		}, []string{"tag", "revision"}),
		Workloads: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meshops", Name: "workloads", Help: "Workloads with injected pods, by the revision they run.",
		}, []string{"revision"}),
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meshops", Name: "restarts_total", Help: "Workload restarts, by result.",
		}, []string{"result"}),
		DriftDetected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "meshops", Name: "drift_detected_total", Help: "Reconciles that found managed objects changed by hand.",
		}),
		StepsPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meshops", Name: "plan_steps_pending", Help: "Steps of the last plan that change the cluster, by phase.",
		}, []string{"phase"}),
		GitFetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "meshops", Name: "git_fetch_duration_seconds", Help: "Duration of fetching the config repo.",
			Buckets: []float64{0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30},
		}),
		GitFetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "meshops", Name: "git_fetch_errors_total", Help: "Failed fetches of the config repo.",
		}),
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meshops", Name: "webhook_requests_total", Help: "Push webhook requests, by endpoint and result.",
		}, []string{"endpoint", "result"}),
		Suspended: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "meshops", Name: "suspended", Help: "1 while reconciles are suspended (meshops suspend).",
		}),
	}
	reg.MustRegister(m.ReconcileDuration, m.Reconciles, m.LastAppliedCommit, m.TagRevision, m.Workloads, m.Restarts,
		m.DriftDetected, m.StepsPending, m.GitFetchDuration, m.GitFetchErrors, m.WebhookRequests, m.Suspended)
	return m
}

// observePlan records what a plan found: the tag, workloads per revision
// and pending steps per phase.
func (m *Metrics) observePlan(p *plan.Plan) {
	if m == nil || p == nil {
		return
	}
	m.StepsPending.Reset()
	for _, ph := range plan.Phases {
		m.StepsPending.WithLabelValues(string(ph)).Set(0)
	}
	for _, s := range p.Steps {
		if s.Changes() {
			m.StepsPending.WithLabelValues(string(s.Phase)).Inc()
		}
	}
	if p.Snapshot == nil {
		return
	}
	m.TagRevision.Reset()
	if t, ok := p.Snapshot.Tags[p.Tag]; ok {
		m.TagRevision.WithLabelValues(p.Tag, t.Revision).Set(1)
	}
	m.Workloads.Reset()
	for _, w := range p.Snapshot.Workloads {
		for rev := range w.Revisions() {
			if rev == "" {
				rev = "unknown"
			}
			m.Workloads.WithLabelValues(rev).Inc()
		}
	}
}

func (m *Metrics) observeReconcile(result string, d time.Duration) {
	if m == nil {
		return
	}
	m.ReconcileDuration.WithLabelValues(result).Observe(d.Seconds())
	m.Reconciles.WithLabelValues(result).Inc()
}

func (m *Metrics) observeCommit(commit string) {
	if m == nil || commit == "" {
		return
	}
	m.LastAppliedCommit.Reset()
	m.LastAppliedCommit.WithLabelValues(commit).Set(1)
}
