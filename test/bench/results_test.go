package bench

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// The targets of issue #9; the table says for each whether it is met.
const (
	targetPlanTime            = 2 * time.Second
	targetPlanRSS             = 150 << 20
	targetOverheadPerWorkload = 50 * time.Millisecond
	targetSpeedup             = 10.0
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
	// Load is configs.Load of the repo, outside the measured plan.
	Load              time.Duration
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

// upgradeResult is one full upgrade, by meshops or by the script.
type upgradeResult struct {
	Script    bool
	Workloads int
	Batch     int
	Wall      time.Duration
	// Requests are meshops' own (its client), or kubectl's (-v=6 lines).
	Requests  int64
	Restarted int
	Timeline  timeline
}

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

func (c *collector) script(workloads int) *upgradeResult {
	for i := range c.upgrades {
		if u := &c.upgrades[i]; u.Script && u.Workloads == workloads {
			return u
		}
	}
	return nil
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
			// RSS is judged on the meshops process when it was run: the
			// bench process also holds the harness.
			rss := p.PeakRSS
			if p.CLI != nil {
				rss = p.CLI.PeakRSS
			}
			target = fmt.Sprintf("< %s, < %d MiB RSS, requests flat", ms(targetPlanTime), targetPlanRSS>>20)
			flat := p.Requests <= smallest
			result = verdict(p.Median < targetPlanTime && rss < targetPlanRSS && flat)
			if len(c.plans) < 2 {
				result += " (flatness not checked: one size only)"
			}
			if p.CLI == nil {
				result += " (RSS of the bench process: run with -meshops for meshops' own)"
			}
		}
		line("observe + plan (plan.Compute)", size,
			fmt.Sprintf("%s (median of %d; max %s)", ms(p.Median), p.Samples, ms(p.Max)),
			fmt.Sprint(p.Requests),
			fmt.Sprintf("%s allocs, %s MiB allocated per plan; peak RSS of the bench process %s MiB", thousands(int(p.Allocs)), mib(int64(p.Bytes)), mib(p.PeakRSS)),
			fmt.Sprintf("%s: %d restarts, %d object changes; config load %s", p.Scenario, p.Restarts, p.Changes, ms(p.Load)),
			target, result)
		if cli := p.CLI; cli != nil {
			line("`meshops plan`, its own process: load + observe + plan + render", size,
				fmt.Sprintf("%s (median of %d)", ms(cli.Median), cli.Samples), "",
				fmt.Sprintf("peak RSS %s MiB, of which %s MiB the binary's own pages (`meshops version`: %s MiB)", mib(cli.PeakRSS), mib(cli.FileRSS), mib(cli.VersionRSS)),
				"VmHWM of the meshops process, read from /proc every 2 ms while it runs; the highest of the runs; meshops' default GC target (GOGC 50 when unset)", "", "")
		}
	}

	sort.SliceStable(c.upgrades, func(i, j int) bool {
		a, b := c.upgrades[i], c.upgrades[j]
		if a.Script != b.Script {
			return !a.Script
		}
		if a.Workloads != b.Workloads {
			return a.Workloads < b.Workloads
		}
		return a.Batch < b.Batch
	})
	for _, u := range c.upgrades {
		what := fmt.Sprintf("upgrade by meshops, batch size %d", u.Batch)
		if u.Batch == defaultBatch() {
			what += " (default)"
		}
		if u.Script {
			what = "upgrade by the script: kubectl rollout restart + status, one by one"
		}
		tl := u.Timeline
		detail := fmt.Sprintf("%d restarted; Σ rolling %s", u.Restarted, secs(tl.Rolling))
		if u.Batch == 1 || u.Script {
			detail += fmt.Sprintf("; overhead (wall − Σ rolling) %s = %s per workload: %s before the first restart, %s after the last rollout, %s mean gap between a rollout's end and the next restart; wall − N × %s = %s",
				secs(u.overhead()), ms(u.overhead()/time.Duration(max(u.Workloads, 1))), ms(tl.Lead), ms(tl.Tail), ms(tl.MeanGap),
				podStartDelay, secs(u.Wall-time.Duration(u.Workloads)*podStartDelay))
		}
		if !u.Script && u.Batch > 1 {
			detail += fmt.Sprintf("; slots busy %.0f%% (Σ rolling / (wall × batch)), a slot stays empty %s on average between a rollout's end and the next restart; %s before the first restart, %s after the last rollout",
				100*tl.Busy, ms(tl.MeanGap), ms(tl.Lead), ms(tl.Tail))
		}
		detail += fmt.Sprintf("; %d moments below the ready floor", tl.Violations)
		if len(tl.Violating) > 0 {
			detail += " (" + strings.Join(tl.Violating, ", ") + ")"
		}
		target, result := "", ""
		switch {
		case u.Script:
		case u.Batch == 1 && u.Workloads == minUpgradeWorkloads():
			per := u.overhead() / time.Duration(max(u.Workloads, 1))
			target = fmt.Sprintf("overhead < %s per workload", ms(targetOverheadPerWorkload))
			result = verdict(per < targetOverheadPerWorkload)
		}
		if !u.Script && u.Batch > 1 {
			if s := c.script(u.Workloads); s != nil {
				ratio := float64(s.Wall) / float64(u.Wall)
				detail += fmt.Sprintf("; %.1f× faster than the script (meshops/script = %.3f)", ratio, 1/ratio)
				if u.Workloads == maxUpgradeWorkloads() && u.Batch == defaultBatch() {
					if target != "" {
						target += "; "
						result += "; "
					}
					target += fmt.Sprintf("≥ %.0f× faster than the script, 0 below floor", targetSpeedup)
					result += verdict(ratio >= targetSpeedup && tl.Violations == 0)
				}
			}
		}
		requests := fmt.Sprint(u.Requests)
		if u.Script {
			requests += " (kubectl)"
		}
		line(what, fmt.Sprintf("%d Deployments × 1 replica", u.Workloads), secs(u.Wall), requests, "", detail, target, result)
	}

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
