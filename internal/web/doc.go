// Package web is Fanfare's web app: server-rendered pages for fans (home,
// sign up, log in, wallet, settings), built with html/template, with their
// templates, stylesheet and small script embedded in the binary.
//
// The pages call the feature services directly (account, wallet) and hand
// the API's paths (/v1/, /openapi.json, /docs, /healthz, /readyz,
// /metrics) to the API handler, so one listener serves both. A browser
// session is the fanfare_session cookie the API also accepts; every form
// carries an anti-forgery token and every unsafe request must come from the
// same origin.
//
// The package imports the fanfare root package and the feature packages
// internal/account and internal/wallet, plus internal/payment for the
// sandbox's test cards. It never touches the store or the ledger itself.
package web
