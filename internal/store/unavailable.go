package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err says the database could not be reached
// or went away, rather than refusing what was asked of it: a connection
// that could not be made (any pgx ConnectError: refused, or the server
// starting up or shutting down), one cut or reset (a network error, an
// unexpected EOF, a connection pgx or database/sql found closed or bad), or
// PostgreSQL ending the session (SQLSTATE class 08, connection exception;
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
// The same request may succeed once the database is back; a write whose
// COMMIT was cut off may or may not have committed, which its idempotency
// key settles on the retry.
//
// A request's own context ending is not unavailability, nor is SQLite's
// busy or locked database (a writer waits for the lock, within its busy
// timeout, on one machine).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && unavailableState(pe.Code) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	for _, target := range []error{io.ErrUnexpectedEOF, driver.ErrBadConn, pgconn.ErrConnClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// unavailableState reports whether a PostgreSQL SQLSTATE says the
// connection or the server went away.
func unavailableState(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	}
	return strings.HasPrefix(code, "08") // connection_exception
}
