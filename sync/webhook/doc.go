// Package webhook serves the push webhooks that ask meshops to fetch and
// reconcile now rather than at the next scheduled poll:
//
//   - POST /hooks/github: GitHub's push webhook, authenticated by the
//     X-Hub-Signature-256 HMAC of the raw body with a shared secret. A push
//     to the tracked branch triggers; ping is answered; other events and
//     other refs are acknowledged and ignored.
//   - POST /hooks/generic: any git host that can send a request with
//     Authorization: Bearer <token>. Every authenticated request triggers;
//     the body is not read beyond the size limit.
//
// The handlers only call Options.Trigger; the loop that receives it
// coalesces triggers and decides what to fetch. Polling stays on:
// webhooks get lost.
package webhook
