// Package http is the sink that posts changes to a webhook:
//
//	http[s]://[USER:PASSWORD@]HOST[:PORT]/PATH[?PARAMETERS]
//
// # Requests
//
// Each batch of changes is sent as one or more POST requests of at most
// max-messages messages (default 1000) and about max-bytes bytes (default
// 1MiB; the messages of one change stay together). The body holds the
// messages the output format makes of the changes (Sluice JSON by default;
// sluice stream --format), one per line with body=ndjson (the default,
// Content-Type application/x-ndjson) or as a JSON array with body=array
// (application/json). Heartbeats and tombstones are not sent, and formats
// that put data in headers (CloudEvents' binary mode) cannot be used: a
// body holds many messages.
//
// Every request carries:
//
//	Idempotency-Key          32 hex digits: the first 16 bytes of the SHA-256 of the pipeline's
//	                         name (sluice stream --id), the position of the request's first
//	                         change and that of its last, each as where it is in the log (the
//	                         position's text without a GTID set or resume token), joined by newlines
//	X-Sluice-First-Position  the position of the first change, as Sluice prints it
//	X-Sluice-Last-Position   the position of the last change
//	X-Sluice-Signature       with secret (or secret-file): "sha256=" and the hex HMAC-SHA256 of
//	                         the body under the shared secret (signature-header renames it)
//	Authorization            Bearer with token, Basic with the URL's user and password
//
// A receiver verifies the signature by computing the HMAC of the body it
// read with the same secret and comparing in constant time, and drops a
// request whose Idempotency-Key it has already processed.
//
// # Delivery
//
// A request is answered: 2xx is success. A connection error, a timeout
// (timeout, default 30s per attempt), 408, 429 and any 5xx are retried
// with exponential backoff from 200ms, capped at backoff-max (default
// 30s), waiting at least what Retry-After asks (seconds or an HTTP date),
// for up to retry-for (default 5m) before the error stops the pipeline. A
// request is always sent again with the same body and key. Any other
// answer (a 4xx, a redirect) stops the pipeline at once with the status
// and the start of the answer's body in the error; the position stays
// before the refused request's changes, so a restart sends it again.
//
// Delivery is at least once, and every change a receiver gets more than
// once comes under an Idempotency-Key it has seen. Within a run that is
// the retries above. Across a crash: sluice stream wraps its state file
// for the sink (sink.StoreWrapper), in which the sink notes, before each
// request, the position of its last change, and after the answer the
// position the request brings the pipeline to. A restart resumes right
// after the last answered request; if one was interrupted, the first
// request sent is that one again — the same changes, the same key —
// holding the changes of smaller batches until it is complete. A receiver
// that drops repeated keys processes every change exactly once. (Used
// without that store, through a pipeline of one's own, the sink still
// retries with the same key, but after a crash the changes since the last
// checkpoint may come again in requests cut differently.)
//
// # Parameters
//
//	body              ndjson (default) or array
//	secret            the shared secret of the signature (never logged)
//	secret-file       a file holding it instead (a trailing newline is not part of it)
//	signature-header  the signature's header (default X-Sluice-Signature)
//	token             sent as Authorization: Bearer TOKEN (never logged)
//	max-messages      messages per request at most (default 1000)
//	max-bytes         about this many bytes per request at most (default 1MiB)
//	timeout           one attempt's time limit (default 30s)
//	backoff-max       the longest wait between attempts (default 30s)
//	retry-for         how long a request is retried (default 5m)
//	query             the webhook's own query string (the URL's query holds these parameters)
//	tls               on or skip-verify (https: encrypt without checking the certificate)
//	tls-ca            PEM file of certificate authorities to trust besides the system's
//	tls-cert, tls-key PEM files of a client certificate and its key
//	tls-server-name   the name to check in the server's certificate
package http
