package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshops/meshops/sync/reconcile"
)

const runningDoc = "../docs/running-in-a-cluster.md"

// queryableSeries are the series names PromQL can select from what
// reconcile.NewMetrics registers: a histogram's _bucket, _sum and _count,
// everything else by its own name.
func queryableSeries(t *testing.T) (series map[string]string, families []string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := reconcile.NewMetrics(reg)
	// A vector exports nothing until it has a child: give each one a
	// child, found by reflection so that a metric added later is covered.
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		get := v.Field(i).MethodByName("GetMetricWithLabelValues")
		if !get.IsValid() {
			continue
		}
		made := false
		for n := 0; n <= 8 && !made; n++ {
			args := slices.Repeat([]reflect.Value{reflect.ValueOf("x")}, n)
			made = get.Call(args)[1].IsNil()
		}
		if !made {
			t.Fatalf("reconcile.Metrics.%s: no child with up to 8 labels", v.Type().Field(i).Name)
		}
	}
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series = map[string]string{}
	for _, f := range gathered {
		name := f.GetName()
		families = append(families, name)
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				series[name+s] = name
			}
		case dto.MetricType_SUMMARY:
			for _, s := range []string{"", "_sum", "_count"} {
				series[name+s] = name
			}
		default:
			series[name] = name
		}
	}
	if len(families) < 10 {
		t.Fatalf("gathered %d metric families from reconcile.NewMetrics: %v", len(families), families)
	}
	return series, families
}

// selectedMetrics parses expr with Prometheus' own PromQL parser and
// returns the metric names it selects.
func selectedMetrics(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var unnamed error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				unnamed = fmt.Errorf("selector %s names no metric", vs)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, unnamed
}

// checkQuery fails t unless expr parses and selects only meshops' metrics;
// it returns the metric families expr uses.
func checkQuery(t *testing.T, where, expr string, series map[string]string) []string {
	t.Helper()
	names, err := selectedMetrics(expr)
	if err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
		return nil
	}
	if len(names) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	var used []string
	for _, n := range names {
		f, ok := series[n]
		if !ok {
			t.Errorf("%s: %s is not a metric of sync/reconcile.NewMetrics (nor a series of one): fix the query or the metric", where, n)
			continue
		}
		used = append(used, f)
	}
	return used
}

type alertRule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	pr := find(render(t, withMonitoring(t)), monitoringGroup, "PrometheusRule", "meshops")
	if pr == nil {
		t.Fatal("the base with the monitoring component has no PrometheusRule meshops")
	}
	var spec struct {
		Groups []struct {
			Name  string      `json:"name"`
			Rules []alertRule `json:"rules"`
		} `json:"groups"`
	}
	raw, _ := pr.Object["spec"].(map[string]any)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		t.Fatalf("PrometheusRule meshops: spec: %v", err)
	}
	var rules []alertRule
	for _, g := range spec.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("PrometheusRule meshops: no rules decoded from spec.groups")
	}
	return rules
}

// Every alert of the PrometheusRule is valid PromQL over metrics meshops
// exports, has a severity, a summary, a description and a runbook that is
// a section of docs/running-in-a-cluster.md, and the doc describes no
// alert that does not exist.
func TestAlertRulesParseUseExistingMetricsAndAreDocumented(t *testing.T) {
	series, _ := queryableSeries(t)
	doc, err := os.ReadFile(runningDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := regexp.MustCompile(`(?m)^### (Meshops\w+)$`).FindAllStringSubmatch(string(doc), -1)
	var names []string
	for _, r := range alertRules(t) {
		where := "PrometheusRule meshops: alert " + r.Alert
		if r.Alert == "" {
			t.Errorf("PrometheusRule meshops: rule %q: only alerts belong here (record: %q)", r.Expr, r.Record)
			continue
		}
		if slices.Contains(names, r.Alert) {
			t.Errorf("%s: defined twice", where)
		}
		names = append(names, r.Alert)
		checkQuery(t, where+": expr", r.Expr, series)
		if r.For != "" {
			if _, err := model.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for: %v", where, err)
			}
		}
		if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
			t.Errorf("%s: labels.severity %q, want critical, warning or info", where, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: annotations.%s is empty", where, a)
			}
		}
		wantURL := "docs/running-in-a-cluster.md#" + strings.ToLower(r.Alert)
		if !strings.HasSuffix(r.Annotations["runbook_url"], wantURL) {
			t.Errorf("%s: runbook_url %q, want it to end in %s", where, r.Annotations["runbook_url"], wantURL)
		}
		if !slices.ContainsFunc(documented, func(m []string) bool { return m[1] == r.Alert }) {
			t.Errorf("%s: %s has no section \"### %s\" (its runbook)", where, runningDoc, r.Alert)
		}
	}
	for _, m := range documented {
		if !slices.Contains(names, m[1]) {
			t.Errorf("%s documents alert %s, which the PrometheusRule does not define", runningDoc, m[1])
		}
	}
	for _, want := range []string{"MeshopsReconcileFailing", "MeshopsSuspendedTooLong", "MeshopsDriftDetected",
		"MeshopsBadRevisionRecorded", "MeshopsRolloutStuck", "MeshopsGitSourceUnreachable"} {
		if !slices.Contains(names, want) {
			t.Errorf("PrometheusRule meshops lacks alert %s", want)
		}
	}
}

type dashboardPanel struct {
	ID      int
	Title   string
	Type    string
	Targets []struct{ Expr string }
	Panels  []dashboardPanel // a collapsed row's panels
}

// grafanaIntervals are the variables Grafana replaces with a duration
// before it sends a query; the parser needs one there.
var grafanaIntervals = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// The dashboard shipped in the ConfigMap is valid JSON, every panel's
// query is valid PromQL over metrics meshops exports, and every metric
// meshops exports is on some panel.
func TestDashboardQueriesParseAndCoverEveryMeshopsMetric(t *testing.T) {
	series, families := queryableSeries(t)
	cm := find(render(t, withMonitoring(t)), "", "ConfigMap", "meshops-dashboard")
	if cm == nil {
		t.Fatal("the base with the monitoring component has no ConfigMap meshops-dashboard")
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", "meshops.json")
	var d struct {
		UID, Title string
		Panels     []dashboardPanel
		Templating struct {
			List []struct {
				Name, Type string
				Definition string
			}
		}
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatalf("components/monitoring/dashboards/meshops.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("components/monitoring/dashboards/meshops.json: uid %q, title %q: both are needed for a stable link", d.UID, d.Title)
	}
	used := map[string]bool{}
	ids := map[int]string{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			where := fmt.Sprintf("dashboard panel %d %q", p.ID, p.Title)
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("%s: id %d is also panel %q's", where, p.ID, prev)
			}
			ids[p.ID] = p.Title
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for _, q := range p.Targets {
				for _, f := range checkQuery(t, where, grafanaIntervals.Replace(q.Expr), series) {
					used[f] = true
				}
			}
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+), *\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("dashboard variable %s: definition %q, want label_values(<metric>, <label>)", v.Name, v.Definition)
			continue
		}
		checkQuery(t, "dashboard variable "+v.Name, m[1], series)
	}
	for _, f := range families {
		if !used[f] {
			t.Errorf("dashboard: no panel shows %s", f)
		}
	}
}
