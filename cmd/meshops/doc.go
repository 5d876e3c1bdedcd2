// Command meshops is the CLI: validate, plan, sync, run, status, suspend,
// resume, comment and version. It only wires flags to the engines (configs,
// sync/reconcile, prcomment) and prints their typed results; no decision
// is made here.
package main
