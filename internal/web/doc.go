// Package web is Fanfare's web app: server-rendered pages for fans (home,
// sign up, log in, wallet, settings), for LIVEs (who is on air, a LIVE's
// room, the creator's studio, a LIVE's summary), for creators' profiles
// (what a visitor may do there and why not, the tip form, the Shoutouts
// offer), for Shoutouts (the request form, the fan's inbox and a request's
// page with its video, the creator's queue, the operator's disputes and
// moderation), for creators' monetization settings and for the operator's
// eligibility rules, built
// with html/template, with their templates, stylesheet and small scripts
// embedded in the binary.
//
// The pages call the feature services directly (account, wallet, live,
// tips, shoutout, eligibility, and profile, which assembles a creator's
// profile) and
// hand the API's paths (/v1/, /openapi.json, /healthz, /readyz,
// /metrics) to the API handler, so one listener serves both. A browser
// session is the fanfare_session cookie the API also accepts; every form
// carries an anti-forgery token and every unsafe request must come from the
// same origin.
//
// A shoutout's video is uploaded and played through the API
// (PUT and GET /v1/shoutouts/{id}/video) from the browser, with the session
// cookie: the upload by a small script with a progress bar, the player a
// <video> element.
//
// LIVE Subscription's subscriber content (internal/content) has its pages
// here too: the creator's emote editor and posts, and a creator's posts
// feed, where a visitor who does not subscribe reads each post's teaser,
// locked, and never its text or its media's address. The emote and post
// forms are multipart uploads read part by part (their anti-forgery token
// checked before a byte of the file is read) and streamed to the content
// service; the images and media are served by the API
// (/v1/emotes/{id}/image, /v1/posts/{id}/media) with the session cookie.
//
// A LIVE's room and studio are rendered here and then kept current by a
// script (static/live.js) that reads the room feed's WebSocket and sends
// gifts through the JSON API (POST /v1/lives/{id}/gifts) with the session
// cookie, so a gift takes the one path every client takes.
//
// The package imports the fanfare root package and the feature packages
// internal/account, internal/wallet, internal/live (with internal/room's
// leaderboard type), internal/eligibility, internal/tips, internal/shoutout,
// internal/subscription, internal/content and internal/profile, plus
// internal/payment for the sandbox's test cards. It
// never touches the store or the ledger itself.
package web
