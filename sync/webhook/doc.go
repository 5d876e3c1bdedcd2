// Package webhook serves the push webhooks that ask meshops to fetch and
// reconcile now rather than at the next scheduled poll:
//
//   - POST /hooks/github: GitHub's push webhook, authenticated by the
//     X-Hub-Signature-256 HMAC of the raw body with a shared secret. A push
//     to the tracked branch triggers; ping is answered; other events and
//     other refs are acknowledged and ignored. The signature is checked
//     for form before the body is read, the body is read up to a small
//     limit within a deadline, and a delivery seen before (by id or body)
//     triggers nothing.
//   - POST /hooks/generic: any git host that can send a request with
//     Authorization: Bearer <token>. Every authenticated request triggers;
//     the body is never read.
//
// Both endpoints share a cap on requests in flight, and ServerOptions
// bound every connection of the server they are mounted on, so a caller
// without credentials costs a bounded amount of memory and no trigger.
//
// The handlers only call Options.Trigger; the loop that receives it
// coalesces triggers and decides what to fetch. Polling stays on:
// webhooks get lost.
package webhook
