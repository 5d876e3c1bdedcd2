package reconcile

import "testing"

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		f    Facts
		want Decision
	}{
		{"a pending plan is executed", Facts{Pending: true}, DecisionExecute},
		{"a plan with nothing pending is recorded as done", Facts{}, DecisionNothingToDo},
		{"a blocked plan is recorded, not executed", Facts{Blocked: true, Pending: true}, DecisionBlocked},
		{"a blocked plan with nothing else pending is still blocked", Facts{Blocked: true}, DecisionBlocked},
		{"a dry run writes nothing even when pending", Facts{DryRun: true, Pending: true}, DecisionDryRun},
		{"a dry run writes nothing even when suspended", Facts{DryRun: true, Suspended: true, Pending: true}, DecisionDryRun},
		{"a dry run of a blocked plan writes nothing", Facts{DryRun: true, Blocked: true}, DecisionDryRun},
		{"suspend stops a pending plan", Facts{Suspended: true, Pending: true}, DecisionSuspended},
		{"suspend wins over report-only", Facts{Suspended: true, ReportOnly: true, Pending: true}, DecisionSuspended},
		{"suspend wins over a blocked plan", Facts{Suspended: true, Blocked: true}, DecisionSuspended},
		{"suspend is reported when nothing is pending", Facts{Suspended: true}, DecisionSuspended},
		{"ignoring suspend explicitly executes", Facts{Suspended: true, IgnoreSuspend: true, Pending: true}, DecisionExecute},
		{"ignoring suspend still records a blocked plan", Facts{Suspended: true, IgnoreSuspend: true, Blocked: true}, DecisionBlocked},
		{"ignoring suspend on a cluster that is not suspended changes nothing", Facts{IgnoreSuspend: true, Pending: true}, DecisionExecute},
		{"report-only never applies a pending plan", Facts{ReportOnly: true, Pending: true}, DecisionReportOnly},
		{"report-only reports a blocked plan without recording it", Facts{ReportOnly: true, Blocked: true}, DecisionReportOnly},
		{"report-only with nothing pending", Facts{ReportOnly: true}, DecisionReportOnly},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(c.f); got != c.want {
				t.Errorf("Decide(%+v) = %q, want %q", c.f, got, c.want)
			}
		})
	}
}
