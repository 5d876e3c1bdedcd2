// Package prcomment keeps one comment per pull request and key (a
// cluster) on GitHub up to date with a Markdown plan: created on the first
// push, edited in place on every push after, so the review thread carries
// one current plan per cluster instead of a pile of stale ones.
package prcomment
