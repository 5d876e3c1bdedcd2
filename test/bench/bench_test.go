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
// asm-1-28 to asm-1-29: by meshops at batch size 1 and at the default, then
// by the script on the largest fleet.
func BenchmarkUpgrade(b *testing.B) {
	type row struct{ workloads, batch int }
	var rows []row
	for _, n := range upgradeSizes {
		for _, batch := range []int{1, defaultBatch()} {
			r := row{n, batch}
			// Batch size 1 is the overhead row: the smallest fleet is enough.
			if batch == 1 && n != minUpgradeWorkloads() && defaultBatch() != 1 {
				continue
			}
			if len(rows) == 0 || rows[len(rows)-1] != r {
				rows = append(rows, r)
			}
		}
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
		b.Run(fmt.Sprintf("meshops-%d-workloads-batch-%d", r.workloads, r.batch), func(b *testing.B) {
			benchMeshopsUpgrade(b, r.workloads, r.batch)
		})
	}
	b.Run(fmt.Sprintf("script-%d-workloads", maxUpgradeWorkloads()), func(b *testing.B) {
		benchScriptUpgrade(b, maxUpgradeWorkloads())
	})
}

func BenchmarkObserveAndPlan(b *testing.B) { benchObserveAndPlan(b) }
