package reconcile

// Decision is what one reconcile does with the plan it computed.
type Decision string

const (
	// DecisionDryRun: report the plan; change nothing, not even the record.
	DecisionDryRun Decision = "dry run"
	// DecisionSuspended: report the plan; the cluster is suspended.
	DecisionSuspended Decision = "suspended"
	// DecisionReportOnly: report the plan; this reconciler never applies.
	DecisionReportOnly Decision = "report only"
	// DecisionBlocked: record why the plan is blocked; change nothing else.
	DecisionBlocked Decision = "blocked"
	// DecisionNothingToDo: record that the cluster matches the commit.
	DecisionNothingToDo Decision = "nothing to do"
	// DecisionExecute: apply the plan.
	DecisionExecute Decision = "execute"
	// DecisionDeclined: the plan was to be executed, and Options.Confirm
	// said no; nothing was changed. Decide never returns it.
	DecisionDeclined Decision = "declined"
)

// Facts are what Decide decides from.
type Facts struct {
	// DryRun, ReportOnly and IgnoreSuspend are the caller's options.
	DryRun, ReportOnly, IgnoreSuspend bool
	// Suspended is the record's suspend flag.
	Suspended bool
	// Pending and Blocked describe the plan.
	Pending, Blocked bool
}

// Decide is the one rule, for every entry point, of what a reconcile does
// once it has a plan. A dry run never writes; suspend wins over everything
// that would write, unless the caller explicitly ignores it; a blocked plan
// is recorded, never executed.
func Decide(f Facts) Decision {
	switch {
	case f.DryRun:
		return DecisionDryRun
	case f.Suspended && !f.IgnoreSuspend:
		return DecisionSuspended
	case f.ReportOnly:
		return DecisionReportOnly
	case f.Blocked:
		return DecisionBlocked
	case !f.Pending:
		return DecisionNothingToDo
	}
	return DecisionExecute
}
