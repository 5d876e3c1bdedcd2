package bench

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// The benchmarks run in this file's order: the cheap latency first, the
// upgrades on an otherwise empty cluster, and the 2,000-workload fleet,
// which stays until the end, last.

func BenchmarkWebhookToReconcileStart(b *testing.B) { benchWebhookToReconcile(b) }

// BenchmarkUpgrade upgrades fleets of one-replica Deployments from
// asm-1-28 to asm-1-29: by meshops at batch size 1 (its overhead per
// workload) and with its default restart policy on every fleet, then on
// the largest by ARO-Tools' strategy (its client as built, then with the
// client's limits lifted) and by the script.
func BenchmarkUpgrade(b *testing.B) {
	type row struct{ workloads, batch int }
	// Batch size 1 is the overhead row: the smallest fleet is enough.
	rows := []row{{minUpgradeWorkloads(), 1}}
	for _, n := range upgradeSizes {
		rows = append(rows, row{n, 0})
	}
	for _, v := range strings.Split(*moreBatch, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		batch, err := strconv.Atoi(v)
		if err != nil || batch < 1 {
			b.Fatalf("-more-batch-sizes: %q is not a batch size", v)
		}
		rows = append(rows, row{maxUpgradeWorkloads(), batch})
	}
	for _, r := range rows {
		name := fmt.Sprintf("meshops-%d-workloads-batch-%d", r.workloads, r.batch)
		if r.batch == 0 {
			name = fmt.Sprintf("meshops-%d-workloads-default", r.workloads)
		}
		b.Run(name, func(b *testing.B) { benchMeshopsUpgrade(b, r.workloads, r.batch) })
	}
	n := maxUpgradeWorkloads()
	b.Run(fmt.Sprintf("aro-tools-%d-workloads", n), func(b *testing.B) { benchPeerUpgrade(b, n, false) })
	b.Run(fmt.Sprintf("aro-tools-%d-workloads-limits-lifted", n), func(b *testing.B) { benchPeerUpgrade(b, n, true) })
	b.Run(fmt.Sprintf("script-%d-workloads", n), func(b *testing.B) { benchScriptUpgrade(b, n) })
}

func BenchmarkObserveAndPlan(b *testing.B) { benchObserveAndPlan(b) }
