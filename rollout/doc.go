// Package rollout judges whether a workload's rollout is complete, the way
// `kubectl rollout status` does, so that meshops' restarts, its control-plane
// gate and the test harness all wait for the same thing.
package rollout
