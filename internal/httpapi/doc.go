// Package httpapi is Fanfare's JSON API over HTTP: routes described by
// OpenAPI 3.1 (served at /openapi.json) and built with huma on the standard
// library's ServeMux, authentication (session tokens, the session cookie and
// the operator API key), RFC 9457 problem+json errors with stable codes,
// request ids, access logs, Prometheus metrics, health and readiness.
//
// Handlers are thin: they decode, call a feature service with the actor
// from the context, and encode. Every business rule lives in the feature
// packages. The package imports the fanfare root package, the feature
// packages (account, wallet), internal/store (readiness) and internal/ledger
// (its Observer interface, implemented by Metrics).
//
// Error responses. Every error is application/problem+json with the members
// type, title, status, detail and code, plus errors (per-field details) for
// validation failures. Codes map to statuses in one table (see Status):
//
//	validation_failed, idempotency_key_required,
//	signature_invalid                             400
//	unauthorized                                  401
//	forbidden, not_eligible, region_blocked,
//	subscribers_only                              403
//	not_found                                     404
//	method_not_allowed                            405
//	conflict, idempotency_conflict, invalid_state,
//	deadline_passed, insufficient_funds,
//	wallet_frozen                                 409
//	payload_too_large                             413
//	unsupported_media_type                        415
//	upgrade_required                              426
//	internal                                      500
//	unavailable                                   503
//
// Every validation failure is 400 validation_failed, whether the body is not
// JSON, breaks the schema (huma's own 422 is folded into 400) or breaks a
// business rule. Insufficient funds and a frozen wallet are 409: the request
// is well formed but conflicts with the wallet's current state.
//
// Input rules (decode.go), for every route: a JSON body must be valid UTF-8
// (no unpaired surrogate escapes either) and name each member once per
// object, at any depth; every string of the input, parameters included,
// must pass fanfare.CheckText (no control characters, one line unless the
// field is tagged `text:"multiline"`). A refusal is 400 validation_failed
// with the field's location in errors[], before the handler runs, so it
// changes nothing. The room feed's frames follow the same rules, and so do
// the routes that read their bodies themselves (uploads streamed to the
// blob store: a shoutout's video, an emote, a post's form).
//
// Cross-origin calls (cors.go): pages of the origins the operator lists
// (Options.CORSOrigins, none by default) may call the /v1/ API from a
// browser with a token in Authorization; their preflights are answered
// 204, and every answer names the origin. Credentials are never allowed:
// the session cookie stays same-origin (requestActor refuses unsafe
// cross-origin calls that carry it). Readiness: a server built with
// Options.WarmingUp answers /readyz 503 unavailable until Ready is called.
//
// Importing the package replaces huma's global error constructors
// (huma.NewError, huma.NewErrorWithContext) so that huma's own failures
// carry codes too, and makes huma match JSON field names case-sensitively.
package httpapi
