// Package observe reads the live mesh in one read-only pass into a
// Snapshot (control planes, tags, namespaces, workloads and their
// sidecars, the ingress Service), and asks the injector what a new pod
// would get (the injection probe). The planner decides from a Snapshot;
// the executor observes again, fresh, for its gate and verify.
package observe
