package ledgerbench

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/fanfarehq/fanfare/internal/store"
)

// Setting is a database setting as read from the database.
type Setting struct {
	Name, Value string
}

func (s Setting) String() string { return s.Name + "=" + s.Value }

// Durability says whether a run's commits were durable when they were
// answered, from the database's own settings and from the syncs the
// committer reported (ledger.Options.OnSync).
type Durability struct {
	Dialect  store.Dialect
	Settings []Setting
	// GroupSync: batches commit without waiting for the disk and the
	// committer fsyncs the WAL before answering them (SQLite with group
	// commit).
	GroupSync bool
	Syncs     int64 // syncs the committer reported during the run
	Batches   int64 // batches it committed
	Durable   bool
	// Why lists what makes the run not durable, e.g. "fsync=off".
	Why []string
}

// ReadSettings reads the settings that decide the durability of db's
// commits: on SQLite journal_mode and synchronous, from the write
// connection the committer uses; on PostgreSQL synchronous_commit and
// fsync, from the server.
func ReadSettings(ctx context.Context, db *store.DB) ([]Setting, error) {
	var names []string
	var query func(name string) string
	switch db.Dialect {
	case store.SQLite:
		names = []string{"journal_mode", "synchronous"}
		query = func(name string) string { return "PRAGMA " + name }
	case store.Postgres:
		names = []string{"synchronous_commit", "fsync"}
		query = func(name string) string { return "SHOW " + name }
	default:
		return nil, fmt.Errorf("read durability settings: unknown dialect %q", db.Dialect)
	}
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read durability settings: %w", err)
	}
	defer conn.Close()
	var out []Setting
	for _, n := range names {
		var v string
		if err := conn.QueryRowContext(ctx, query(n)).Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		if db.Dialect == store.SQLite && n == "synchronous" {
			v = sqliteSynchronous(v)
		}
		out = append(out, Setting{n, strings.ToLower(v)})
	}
	return out, nil
}

// sqliteSynchronous names PRAGMA synchronous's number.
func sqliteSynchronous(v string) string {
	switch v {
	case "0":
		return "off"
	case "1":
		return "normal"
	case "2":
		return "full"
	case "3":
		return "extra"
	}
	return v
}

// Judge decides whether a run was durable from what was read and counted:
//   - SQLite: the journal is the WAL, synchronous is FULL (or EXTRA) for
//     every commit that does not go through the committer's own sync, and
//     the committer reported its syncs: with group commit (groupSync) it
//     commits at NORMAL and fsyncs the WAL before answering; without, each
//     commit waits for the disk itself;
//   - PostgreSQL: fsync is on and synchronous_commit is not off (a COMMIT
//     then returns once its WAL is flushed on the server).
//
// A run that committed batches but reported no sync is not durable.
func Judge(d store.Dialect, settings []Setting, groupSync bool, syncs, batches int64) Durability {
	r := Durability{Dialect: d, Settings: settings, GroupSync: groupSync, Syncs: syncs, Batches: batches}
	get := func(name string) string {
		for _, s := range settings {
			if s.Name == name {
				return s.Value
			}
		}
		return ""
	}
	want := func(name string, ok bool) {
		if !ok {
			r.Why = append(r.Why, Setting{name, cmp.Or(get(name), "unknown")}.display())
		}
	}
	switch d {
	case store.SQLite:
		want("journal_mode", get("journal_mode") == "wal")
		s := get("synchronous")
		want("synchronous", s == "full" || s == "extra")
	case store.Postgres:
		want("fsync", get("fsync") == "on")
		s := get("synchronous_commit")
		want("synchronous_commit", s != "" && s != "off")
	default:
		r.Why = append(r.Why, "unknown store "+string(d))
	}
	if batches > 0 && syncs == 0 {
		r.Why = append(r.Why, "no sync reported by the committer")
	}
	r.Durable = len(r.Why) == 0
	return r
}

// String is the durability part of the summary line, e.g.
// "durable: WAL fsynced before answers in 812 fsyncs, journal_mode=wal,
// synchronous=FULL", "durable: synchronous_commit=on, fsync=on" or
// "NOT durable: fsync=off" (only what makes it not durable).
func (r Durability) String() string {
	if !r.Durable {
		return "NOT durable: " + strings.Join(r.Why, ", ")
	}
	var b strings.Builder
	b.WriteString("durable: ")
	if r.Dialect == store.SQLite {
		if r.GroupSync {
			fmt.Fprintf(&b, "WAL fsynced before answers in %d fsyncs, ", r.Syncs)
		} else {
			b.WriteString("each commit fsynced before its answer, ")
		}
	}
	for i, s := range r.Settings {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.display())
	}
	return b.String()
}

// display shows SQLite's synchronous level in capitals, as its
// documentation names it.
func (s Setting) display() string {
	if s.Name == "synchronous" {
		return s.Name + "=" + strings.ToUpper(s.Value)
	}
	return s.String()
}
