// Package gitsource keeps a local checkout of the config repo in step with
// its remote: it clones once into a cache folder, then fetches, and hands
// back the checked-out commit as an Artifact that configs.Load can read.
//
// It tracks a branch or pins a tag or a commit; authenticates over HTTPS
// (basic or bearer token) or SSH (private key, host checked against
// known_hosts) with credentials named as in Flux's Secrets; recovers on its
// own from a corrupt cache, a changed remote URL and a force push; and can
// refuse a head commit that is not signed by a key of a configured OpenPGP
// keyring.
//
// The package reads no flags and knows nothing of the reconcile loop: the
// caller decides when to Fetch and what to do with the Artifact.
package gitsource
