package bench

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshops/meshops/test/golden"
)

// The targets of issues #9 and #20; the table says for each whether the
// measured numbers meet it.
const (
	// targetPlanCLITime and targetPlanRSS are meshops plan's, its own
	// process, at targetFleet.
	targetPlanCLITime = time.Second
	targetPlanRSS     = 100 << 20
	// targetConfigLoad is configs.Load of targetFleet's repo (10,000
	// policies).
	targetConfigLoad          = 200 * time.Millisecond
	targetOverheadPerWorkload = 50 * time.Millisecond
	targetSpeedup             = 10.0
	// targetRequestsPerWorkload bounds meshops' API requests per restarted
	// workload beyond the fixed cost of the run.
	targetRequestsPerWorkload = 4.0
	targetWebhook             = time.Second
	targetFetchNoChange       = 200 * time.Millisecond
	// targetFleet is the fleet size the plan targets are judged at.
	targetFleet = 2000
)

// planResult is one observe + plan row.
type planResult struct {
	Workloads, Policies int
	Samples             int
	Median, Max         time.Duration
	// Load is the median of LoadSamples configs.Load of the repo, outside
	// the measured plan; LoadMax the slowest.
	Load, LoadMax     time.Duration
	LoadSamples       int
	Requests          int64
	Allocs, Bytes     uint64 // per plan
	PeakRSS           int64
	Scenario          string
	Restarts, Changes int
	// CLI is meshops plan run as its own process on the same fleet;
	// nil when not measured (-meshops).
	CLI *cliResult
}

// cliResult is the meshops plan process: wall time and peak RSS of the
// whole process (load, observe, plan, render), next to meshops version's,
// which is what the binary holds doing nothing.
type cliResult struct {
	Samples int
	Median  time.Duration
	// PeakRSS is the highest of the runs, FileRSS the part of it backed
	// by files (the binary's pages, shared and reclaimable).
	PeakRSS, FileRSS, VersionRSS int64
}

// upgradeResult is one full upgrade: by meshops, by ARO-Tools' strategy
// (Peer) or by the script.
type upgradeResult struct {
	Script bool
	// Peer is ARO-Tools' strategy; PeerLifted with its client's rate
	// limits lifted.
	Peer, PeerLifted bool
	Workloads        int
	// Batch is meshops' restart.batchSize; 0 the default restart policy.
	Batch int
	// Wall is from the start until the tool returned.
	Wall time.Duration
	// Requests are the tool's own (its client), or kubectl's (-v=6 lines).
	Requests  int64
	Restarted int
	Timeline  timeline
}

// upgraded is when the fleet was upgraded: the tool returned and the
// harness saw every rollout complete. A tool that judges rollouts done
// too early returns before that.
func (u upgradeResult) upgraded() time.Duration { return max(u.Wall, u.Timeline.LastRolled) }

// overhead is the upgrade's wall time minus the time workloads spent
// rolling: everything the tool itself adds. Only meaningful when the
// rollouts do not overlap (batch size 1).
func (u upgradeResult) overhead() time.Duration { return u.Wall - u.Timeline.Rolling }

type latencyResult struct {
	Samples     int
	Median, Max time.Duration
	Handler     string
}

// collector gathers the rows as benchmarks finish, for the table TestMain
// prints at the end.
type collector struct {
	mu       sync.Mutex
	plans    []planResult
	upgrades []upgradeResult
	webhook  *latencyResult
	git      []gitResult
	notes    []string
}

var results collector

func (c *collector) addPlan(r planResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plans = append(c.plans, r)
}

func (c *collector) addUpgrade(r upgradeResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upgrades = append(c.upgrades, r)
}

func (c *collector) setWebhook(r latencyResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.webhook = &r
}

func (c *collector) note(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// find is the first upgrade of the given size that matches.
func (c *collector) find(workloads int, match func(u *upgradeResult) bool) *upgradeResult {
	for i := range c.upgrades {
		if u := &c.upgrades[i]; u.Workloads == workloads && match(u) {
			return u
		}
	}
	return nil
}

func (c *collector) script(workloads int) *upgradeResult {
	return c.find(workloads, func(u *upgradeResult) bool { return u.Script })
}

// peer is ARO-Tools' strategy on workloads: with its client's limits
// lifted, or as built.
func (c *collector) peer(workloads int, lifted bool) *upgradeResult {
	return c.find(workloads, func(u *upgradeResult) bool { return u.Peer && u.PeerLifted == lifted })
}

// meshopsDefault is meshops' upgrade of workloads with the default
// restart policy.
func (c *collector) meshopsDefault(workloads int) *upgradeResult {
	return c.find(workloads, func(u *upgradeResult) bool { return !u.Script && !u.Peer && u.Batch == 0 })
}

// judgeUpgrade is the 200-workload upgrade's target: meshops upgrades the
// fleet no later than ARO-Tools' strategy (limits lifted: the strategy,
// not its client's throttle) and with fewer rollouts at once, never below
// a ready floor, and at least targetSpeedup times faster than the script.
func judgeUpgrade(m *upgradeResult, peer, script *upgradeResult) (target, result string) {
	target = fmt.Sprintf("wall ≤ ARO-Tools' strategy's (limits lifted), lower peak of concurrent rollouts, 0 below floor; ≥ %.0f× faster than the script", targetSpeedup)
	if peer == nil || script == nil {
		return target, "**missed** (no ARO-Tools or script row to compare with)"
	}
	var missed []string
	if m.Wall > peer.upgraded() {
		missed = append(missed, "slower than ARO-Tools")
	}
	if m.Timeline.PeakRollouts >= peer.Timeline.PeakRollouts {
		missed = append(missed, "peak not lower")
	}
	if m.Timeline.Violations > 0 {
		missed = append(missed, "below floor")
	}
	if float64(script.Wall)/float64(m.Wall) < targetSpeedup {
		missed = append(missed, fmt.Sprintf("< %.0f× the script", targetSpeedup))
	}
	if len(missed) > 0 {
		return target, verdict(false) + " (" + strings.Join(missed, "; ") + ")"
	}
	return target, verdict(true)
}

// requestsPerWorkload is what one more restarted workload costs meshops
// in API requests: the slope between its default upgrades of the
// smallest and the largest fleet, so the run's fixed cost (load, plan,
// gate, tag flip, verify) drops out.
func requestsPerWorkload(small, large *upgradeResult) float64 {
	return float64(large.Requests-small.Requests) / float64(large.Workloads-small.Workloads)
}

// markdown renders every row measured, with each target's verdict.
func (c *collector) markdown() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	b.WriteString("| measurement | size | time | API requests | memory | detail | target | result |\n")
	b.WriteString("|---|---|---:|---:|---|---|---|---|\n")
	line := func(cells ...string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }

	sort.Slice(c.plans, func(i, j int) bool { return c.plans[i].Workloads < c.plans[j].Workloads })
	var smallest int64
	if len(c.plans) > 0 {
		smallest = c.plans[0].Requests
	}
	for _, p := range c.plans {
		target, result := "", ""
		size := fmt.Sprintf("%s workloads, %s policies", thousands(p.Workloads), thousands(p.Policies))
		if p.Workloads == targetFleet {
			target = "requests flat in the fleet size"
			result = verdict(p.Requests <= smallest)
			if len(c.plans) < 2 {
				result += " (not checked: one size only)"
			}
		}
		line("observe + plan (plan.Compute)", size,
			fmt.Sprintf("%s (median of %d; max %s)", ms(p.Median), p.Samples, ms(p.Max)),
			fmt.Sprint(p.Requests),
			fmt.Sprintf("%s allocs, %s MiB allocated per plan; peak RSS of the bench process %s MiB", thousands(int(p.Allocs)), mib(int64(p.Bytes)), mib(p.PeakRSS)),
			fmt.Sprintf("%s: %d restarts, %d object changes; config load %s", p.Scenario, p.Restarts, p.Changes, ms(p.Load)),
			target, result)
	}
	for _, p := range c.plans {
		if p.Workloads != targetFleet {
			continue
		}
		line("config load (configs.Load)", fmt.Sprintf("%s policies, %s namespaces' files", thousands(p.Policies), thousands(p.Workloads/fleetNamespaceSize)),
			fmt.Sprintf("%s (median of %d; max %s)", ms(p.Load), p.LoadSamples, ms(p.LoadMax)), "", "",
			"read, parse and check the repo of the observe + plan row; the first load reads from disk, the others from the page cache",
			fmt.Sprintf("< %s", ms(targetConfigLoad)), verdict(p.Load < targetConfigLoad))
		cliTarget := fmt.Sprintf("< %s wall, < %d MiB peak RSS", ms(targetPlanCLITime), targetPlanRSS>>20)
		cli := p.CLI
		if cli == nil {
			line("`meshops plan`, its own process", fmt.Sprintf("%s workloads, %s policies", thousands(p.Workloads), thousands(p.Policies)),
				"not measured", "", "", "run with -meshops (make bench does)", cliTarget, "")
			continue
		}
		line("`meshops plan`, its own process: load + observe + plan + render", fmt.Sprintf("%s workloads, %s policies", thousands(p.Workloads), thousands(p.Policies)),
			fmt.Sprintf("%s (median of %d)", ms(cli.Median), cli.Samples), "",
			fmt.Sprintf("peak RSS %s MiB, of which %s MiB the binary's own pages (`meshops version`: %s MiB)", mib(cli.PeakRSS), mib(cli.FileRSS), mib(cli.VersionRSS)),
			"VmHWM of the meshops process, read from /proc every 2 ms while it runs; the highest of the runs; meshops' default GC target (GOGC 50 when unset)",
			cliTarget, verdict(cli.Median < targetPlanCLITime && cli.PeakRSS < targetPlanRSS))
	}

	// meshops' rows first, then ARO-Tools', then the script's; each in
	// the order they ran.
	rank := func(u upgradeResult) int {
		switch {
		case u.Script:
			return 2
		case u.Peer:
			return 1
		}
		return 0
	}
	sort.SliceStable(c.upgrades, func(i, j int) bool { return rank(c.upgrades[i]) < rank(c.upgrades[j]) })
	for i := range c.upgrades {
		c.upgradeLine(line, &c.upgrades[i])
	}
	c.requestsLine(line)

	for _, g := range c.git {
		what, target, result := "git fetch of a new commit changing one manifest (sync/gitsource)", "", ""
		if g.Name == "BenchmarkFetchNoChange" {
			what = "git fetch with no change (sync/gitsource)"
			target, result = fmt.Sprintf("< %s", ms(targetFetchNoChange)), verdict(g.PerOp < targetFetchNoChange)
		}
		line(what, "1,000 manifests, over HTTP", fmt.Sprintf("%s (mean of %d)", ms(g.PerOp), g.Iterations), "",
			fmt.Sprintf("%s allocs, %.1f MiB allocated per fetch", thousands(int(g.Allocs)), float64(g.Bytes)/(1<<20)),
			"`go test -bench BenchmarkFetch ./sync/gitsource`", target, result)
	}
	if len(c.git) == 0 {
		line("git fetch (no change; new commit)", "", "not measured", "", "", "run with -git-bench (make bench does)", fmt.Sprintf("no change < %s", ms(targetFetchNoChange)), "")
	}
	if w := c.webhook; w != nil {
		line("webhook POST → reconcile start", fmt.Sprintf("%d pushes", w.Samples),
			fmt.Sprintf("%s (median; max %s)", ms(w.Median), ms(w.Max)), "", "", w.Handler,
			fmt.Sprintf("< %s", ms(targetWebhook)), verdict(w.Max < targetWebhook))
	}
	for _, n := range c.notes {
		b.WriteString("\n" + n + "\n")
	}
	return b.String()
}

// upgradeLine renders one upgrade row, with its target where it has one.
func (c *collector) upgradeLine(line func(...string), u *upgradeResult) {
	what := "upgrade by meshops, default restart policy"
	switch {
	case u.Script:
		what = "upgrade by the script: kubectl rollout restart + status, one by one"
	case u.Peer && u.PeerLifted:
		what = "upgrade by ARO-Tools' strategy, client limits lifted"
	case u.Peer:
		what = "upgrade by ARO-Tools' strategy, its client as built (client-go's default 5 QPS)"
	case u.Batch > 0:
		what = fmt.Sprintf("upgrade by meshops, batch size %d", u.Batch)
	}
	tl := u.Timeline
	wall := u.Wall
	detail := fmt.Sprintf("%d restarted; Σ rolling %s", u.Restarted, secs(tl.Rolling))
	if u.Batch == 1 || u.Script {
		detail += fmt.Sprintf("; overhead (wall − Σ rolling) %s = %s per workload: %s before the first restart, %s after the last rollout, %s mean gap between a rollout's end and the next restart; wall − N × %s = %s",
			secs(u.overhead()), ms(u.overhead()/time.Duration(max(u.Workloads, 1))), ms(tl.Lead), ms(tl.Tail), ms(tl.MeanGap),
			podStartDelay, secs(u.Wall-time.Duration(u.Workloads)*podStartDelay))
	}
	if !u.Script && u.Batch > 1 {
		detail += fmt.Sprintf("; slots busy %.0f%% (Σ rolling / (wall × batch)), a slot stays empty %s on average between a rollout's end and the next restart",
			100*tl.Busy, ms(tl.MeanGap))
	}
	if u.Batch != 1 && !u.Script {
		detail += fmt.Sprintf("; %s before the first restart", ms(tl.Lead))
		if tl.RolledAfterEnd > 0 {
			detail += fmt.Sprintf("; returned with %d rollouts not complete, the last completed %s after it returned", tl.RolledAfterEnd, ms(tl.LastRolled-u.Wall))
		} else {
			detail += fmt.Sprintf(", %s after the last rollout", ms(tl.Tail))
		}
	}
	if u.Peer {
		detail += fmt.Sprintf("; %.1f requests per restarted workload, all in", float64(u.Requests)/float64(max(u.Restarted, 1)))
	}
	detail += fmt.Sprintf("; peak %d concurrent rollouts (mean %.1f); peak %d unavailable pods; %d moments below the ready floor",
		tl.PeakRollouts, float64(tl.Rolling)/float64(max(u.upgraded(), 1)), tl.PeakUnavailable, tl.Violations)
	if len(tl.Violating) > 0 {
		detail += " (" + strings.Join(tl.Violating, ", ") + ")"
	}
	if !u.Script {
		if s := c.script(u.Workloads); s != nil {
			ratio := float64(s.Wall) / float64(u.upgraded())
			detail += fmt.Sprintf("; %.1f× faster than the script", ratio)
		}
	}
	if !u.Script && !u.Peer {
		for _, lifted := range []bool{true, false} {
			if p := c.peer(u.Workloads, lifted); p != nil {
				detail += fmt.Sprintf("; wall %.2f× ARO-Tools' (%s)", float64(u.Wall)/float64(p.upgraded()), map[bool]string{true: "limits lifted", false: "as built"}[lifted])
			}
		}
	}
	target, result := "", ""
	switch {
	case u.Batch == 1 && u.Workloads == minUpgradeWorkloads():
		per := u.overhead() / time.Duration(max(u.Workloads, 1))
		target = fmt.Sprintf("overhead < %s per workload", ms(targetOverheadPerWorkload))
		result = verdict(per < targetOverheadPerWorkload)
	case !u.Script && !u.Peer && u.Batch == 0 && u.Workloads == maxUpgradeWorkloads():
		target, result = judgeUpgrade(u, c.peer(u.Workloads, true), c.script(u.Workloads))
	}
	requests := fmt.Sprint(u.Requests)
	if u.Script {
		requests += " (kubectl)"
	}
	timeCell := secs(wall)
	if u.upgraded() > wall {
		timeCell = fmt.Sprintf("%s (fleet upgraded at %s)", secs(wall), secs(u.upgraded()))
	}
	line(what, fmt.Sprintf("%d Deployments × 1 replica", u.Workloads), timeCell, requests, "", detail, target, result)
}

// requestsLine is meshops' requests per restarted workload, from its
// default upgrades of the smallest and the largest fleet.
func (c *collector) requestsLine(line func(...string)) {
	small, large := c.meshopsDefault(minUpgradeWorkloads()), c.meshopsDefault(maxUpgradeWorkloads())
	target := fmt.Sprintf("≤ %.0f per workload", targetRequestsPerWorkload)
	what := "API requests per restarted workload, meshops (default restart policy)"
	size := fmt.Sprintf("%d → %d Deployments", minUpgradeWorkloads(), maxUpgradeWorkloads())
	if small == nil || large == nil || large.Workloads == small.Workloads {
		line(what, size, "", "not measured", "", "needs both default upgrade rows", target, "")
		return
	}
	per := requestsPerWorkload(small, large)
	fixed := float64(small.Requests) - per*float64(small.Workloads)
	line(what, size, "", fmt.Sprintf("%.1f per workload", per), "",
		fmt.Sprintf("(requests at %d − requests at %d) / %d = (%d − %d) / %d, the slope between the two default upgrade rows; the run's fixed cost (load, plan, gate, tag flip, verify) drops out: about %.0f requests",
			large.Workloads, small.Workloads, large.Workloads-small.Workloads, large.Requests, small.Requests, large.Workloads-small.Workloads, fixed),
		target, verdict(per <= targetRequestsPerWorkload))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ms(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return secs(d)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }

// thousands writes n with thin separators, as the README's tables do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

func TestUpgradeTargetIsJudgedAgainstTheLiftedStrategyAndTheScript(t *testing.T) {
	up := func(wall, lastRolled time.Duration, peak, violations int) *upgradeResult {
		return &upgradeResult{Workloads: 200, Wall: wall, Timeline: timeline{LastRolled: lastRolled, PeakRollouts: peak, Violations: violations}}
	}
	script := up(400*time.Second, 400*time.Second, 1, 0)
	// The peer returned at 2 s while its rollouts went on until 12 s.
	peer := up(2*time.Second, 12*time.Second, 200, 0)
	for _, tc := range []struct {
		name    string
		meshops *upgradeResult
		peer    *upgradeResult
		want    string
	}{
		{"faster than the fleet upgraded by the peer, lower peak", up(11*time.Second, 10*time.Second, 40, 0), peer, "met"},
		{"slower than the peer", up(13*time.Second, 12*time.Second, 40, 0), peer, "**missed** (slower than ARO-Tools)"},
		{"as many rollouts at once", up(11*time.Second, 10*time.Second, 200, 0), peer, "**missed** (peak not lower)"},
		{"below a floor, under 10x the script", up(41*time.Second, 40*time.Second, 20, 3), up(60*time.Second, 60*time.Second, 200, 0),
			"**missed** (below floor; < 10× the script)"},
		{"no peer row", up(11*time.Second, 10*time.Second, 40, 0), nil, "**missed** (no ARO-Tools or script row to compare with)"},
	} {
		if _, got := judgeUpgrade(tc.meshops, tc.peer, script); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRequestsPerWorkloadIsTheSlopeBetweenTheDefaultRows(t *testing.T) {
	var c collector
	c.addUpgrade(upgradeResult{Workloads: 50, Batch: 1, Requests: 546})
	c.addUpgrade(upgradeResult{Workloads: 50, Requests: 400})
	c.addUpgrade(upgradeResult{Workloads: 200, Requests: 1000})
	c.addUpgrade(upgradeResult{Workloads: 200, Peer: true, PeerLifted: true, Requests: 300})
	got := requestsPerWorkload(c.meshopsDefault(50), c.meshopsDefault(200))
	if got != 4 {
		t.Fatalf("%.2f requests per workload, want (1000 − 400) / 150 = 4", got)
	}
	table := c.markdown()
	if !strings.Contains(table, "| 4.0 per workload |") || !strings.Contains(table, "| ≤ 4 per workload | met |") {
		t.Errorf("the table does not show 4.0 per workload as met:\n%s", table)
	}
}

// The table of a run with every kind of row, from fixed numbers: each
// row's cells and each target's verdict, reviewed as a diff of
// testdata/table.md.
func TestTableRendersEveryRowWithItsVerdict(t *testing.T) {
	var c collector
	rolled := func(rolling, lastRolled time.Duration, peak int) timeline {
		return timeline{Rolling: rolling, LastRolled: lastRolled, PeakRollouts: peak,
			Lead: 300 * time.Millisecond, Tail: 150 * time.Millisecond, MeanGap: 20 * time.Millisecond}
	}
	c.addPlan(planResult{Workloads: 2000, Policies: 10000, Samples: 5, Median: 900 * time.Millisecond, Max: 1200 * time.Millisecond,
		Load: 180 * time.Millisecond, LoadMax: 400 * time.Millisecond, LoadSamples: 3, Requests: 8, Allocs: 3_000_000, Bytes: 240 << 20,
		PeakRSS: 190 << 20, Scenario: "upgrade", Restarts: 2000,
		CLI: &cliResult{Samples: 3, Median: 1100 * time.Millisecond, PeakRSS: 95 << 20, FileRSS: 37 << 20, VersionRSS: 37 << 20}})
	c.addPlan(planResult{Workloads: 100, Policies: 500, Samples: 5, Median: 60 * time.Millisecond, Max: 70 * time.Millisecond,
		Load: 25 * time.Millisecond, LoadMax: 30 * time.Millisecond, LoadSamples: 3, Requests: 8, Allocs: 170_000, Bytes: 13 << 20,
		PeakRSS: 90 << 20, Scenario: "upgrade", Restarts: 100})
	c.addUpgrade(upgradeResult{Workloads: 50, Batch: 1, Wall: 104 * time.Second, Requests: 546, Restarted: 50, Timeline: rolled(103*time.Second, 104*time.Second, 1)})
	c.addUpgrade(upgradeResult{Workloads: 50, Wall: 8 * time.Second, Requests: 400, Restarted: 50, Timeline: rolled(110*time.Second, 8*time.Second, 20)})
	c.addUpgrade(upgradeResult{Workloads: 200, Wall: 20 * time.Second, Requests: 1000, Restarted: 200, Timeline: rolled(420*time.Second, 20*time.Second, 40)})
	early := rolled(3000*time.Second, 25*time.Second, 200)
	early.RolledAfterEnd = 90
	c.addUpgrade(upgradeResult{Peer: true, PeerLifted: true, Workloads: 200, Wall: 22 * time.Second, Requests: 340, Restarted: 200, Timeline: early})
	c.addUpgrade(upgradeResult{Peer: true, Workloads: 200, Wall: 50 * time.Second, Requests: 280, Restarted: 200, Timeline: rolled(1200*time.Second, 46*time.Second, 60)})
	c.addUpgrade(upgradeResult{Script: true, Workloads: 200, Wall: 420 * time.Second, Requests: 1012, Restarted: 200, Timeline: rolled(410*time.Second, 420*time.Second, 1)})
	c.git = []gitResult{{Name: "BenchmarkFetchNoChange", Iterations: 20, PerOp: 40 * time.Millisecond, Bytes: 10 << 20, Allocs: 265_000}}
	c.setWebhook(latencyResult{Samples: 20, Median: 30 * time.Microsecond, Max: 140 * time.Microsecond, Handler: "signed push"})
	golden.Check(t, "table.md", []byte(c.markdown()))
}
