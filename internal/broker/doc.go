// Package broker carries what the nodes serving one database must share in
// real time, over NATS (github.com/nats-io/nats.go): each LIVE room's
// events, how many viewers each node has in each room, who watches, the
// chat's rate limits, and what a node changed that the others cache. One node needs none of it: internal/app then
// uses room.Local, in process.
//
// Subjects, under a prefix (default "fanfare"):
//
//	<prefix>.room.<room>        a room's events, published once by the node
//	                            where they happen, delivered to every node
//	                            following the room
//	<prefix>.presence           each node's viewer counts, every second
//	<prefix>.watching.<room>    asks every node for the logged-in viewers
//	                            of a room (a request; each node answers)
//	<prefix>.chat               the chat tokens a node took (rate limits)
//	<prefix>.forget             what a node changed that the others cache
//	                            (a session ended, a user, an API key)
//	<prefix>.resync             a node's connection is back: what it
//	                            published while away is missing elsewhere,
//	                            so every node's rooms reload their state
//
// A node hands its own events to its own viewers in process and does not
// receive them back (NoEcho), so its viewers keep their feed while NATS is
// away. Messages are not buffered while the connection is down: an event
// published then reaches this node's viewers only, and when the
// connection is back every room of every node reloads its state from the
// database (room.Hub.Resync), the events the other nodes missed included. Gifts
// never wait for NATS: the ledger has committed them before they are
// published.
package broker
