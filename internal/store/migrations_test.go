package store_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// releasedList is the hash list of released migration files, in the format
// of sha256sum (so `sha256sum -c released.sha256` checks it in the
// migrations folder too).
const releasedList = "migrations/released.sha256"

// TestReleasedMigrations keeps migrations history: a released migration
// file is never edited (a database that applied it would never see the
// change), and every migration file is listed, so that adding one means
// adding its line.
func TestReleasedMigrations(t *testing.T) {
	t.Parallel()
	f, err := os.Open(releasedList)
	require.NoError(t, err)
	defer f.Close()
	listed := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		sum, path, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s:%d: want \"<sha256>  <dialect>/<file>.sql\", got %q", releasedList, n, line)
		}
		if _, dup := listed[path]; dup {
			t.Errorf("%s:%d: %s is listed twice", releasedList, n, path)
		}
		listed[path] = sum
	}
	require.NoError(t, sc.Err())

	files, err := filepath.Glob("migrations/*/*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		rel := strings.TrimPrefix(filepath.ToSlash(file), "migrations/")
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		want, ok := listed[rel]
		switch {
		case !ok:
			t.Errorf("%s is not in %s: a new migration adds its line (sha256sum %s >> released.sha256, in the migrations folder)", rel, releasedList, rel)
		case hex.EncodeToString(sum[:]) != want:
			t.Errorf("%s was edited after its release: a released migration is never changed (databases that applied it would not see the change); undo the edit and add a new migration", rel)
		}
		delete(listed, rel)
	}
	for rel := range listed {
		t.Errorf("%s is listed in %s but missing: a released migration is never removed", rel, releasedList)
	}

	// Both dialects number alike: the same versions, one file each.
	versions := func(d store.Dialect) []string {
		names, err := filepath.Glob(filepath.Join("migrations", string(d), "*.sql"))
		require.NoError(t, err)
		var v []string
		for _, n := range names {
			v = append(v, strings.SplitN(filepath.Base(n), "_", 2)[0])
		}
		return v
	}
	require.Equal(t, versions(store.SQLite), versions(store.Postgres), "both dialects have a migration of each number")
}

// TestMigrationDropsOldTransferForeignKeys applies the migrations to a
// database created with the first text of 00001, whose transfers had
// foreign keys to accounts: migration 00010 removes them, keeping the rows,
// and the schema ends as a new database's.
func TestMigrationDropsOldTransferForeignKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, fresh *store.DB) {
		ctx := context.Background()
		d := fresh.Dialect
		db, err := store.Open(ctx, storetest.URL(t, d))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })

		// Versions 1 to 9 as a database created then has them.
		old, err := os.ReadFile(filepath.Join("testdata", "migrations-before-fk-removal", string(d)+"_00001_foundation.sql"))
		require.NoError(t, err)
		fsys := fstest.MapFS{"00001_foundation.sql": {Data: old}}
		later, err := filepath.Glob(filepath.Join("migrations", string(d), "0000[2-9]_*.sql"))
		require.NoError(t, err)
		require.Len(t, later, 8)
		for _, p := range later {
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			fsys[filepath.Base(p)] = &fstest.MapFile{Data: data}
		}
		gd := goose.DialectSQLite3
		if d == store.Postgres {
			gd = goose.DialectPostgres
		}
		p, err := goose.NewProvider(gd, db.Write, fsys)
		require.NoError(t, err)
		res, err := p.Up(ctx)
		require.NoError(t, err)
		require.Len(t, res, 9)
		require.Len(t, foreignKeys(t, db, "transfers"), 2, "the first 00001 made foreign keys on transfers")

		_, err = db.Write.ExecContext(ctx, `INSERT INTO accounts (id, owner, asset, system, balance, frozen, created_at)
			VALUES (1, 'system:issuance', 'COIN', TRUE, -5, FALSE, 1), (2, 'u1', 'COIN', FALSE, 5, FALSE, 1)`)
		require.NoError(t, err)
		_, err = db.Write.ExecContext(ctx, `INSERT INTO transfers (id, op_id, debit_account_id, credit_account_id, amount, kind, object, actor, hold_id, flags, created_at)
			VALUES (7, 'op1', 1, 2, 5, 'grant', 'grant:1', 'ops', NULL, 0, 11), (8, 'op2', 1, 2, 3, 'grant', 'grant:2', 'ops', 'h1', 2, 12)`)
		require.NoError(t, err)

		n, err := db.Migrate(ctx)
		require.NoError(t, err)
		require.Positive(t, n)
		require.Empty(t, foreignKeys(t, db, "transfers"))

		var rows []string
		rs, err := db.Read.QueryContext(ctx, `SELECT id, op_id, debit_account_id, credit_account_id, amount, kind, object, actor, COALESCE(hold_id, '-'), flags, created_at FROM transfers ORDER BY id`)
		require.NoError(t, err)
		for rs.Next() {
			var id, debit, credit, amount, flags, at int64
			var op, kind, object, actor, hold string
			require.NoError(t, rs.Scan(&id, &op, &debit, &credit, &amount, &kind, &object, &actor, &hold, &flags, &at))
			rows = append(rows, strings.TrimSpace(fmt.Sprintln(id, op, debit, credit, amount, kind, object, actor, hold, flags, at)))
		}
		require.NoError(t, rs.Err())
		require.Equal(t, []string{"7 op1 1 2 5 grant grant:1 ops - 0 11", "8 op2 1 2 3 grant grant:2 ops h1 2 12"}, rows)

		// A transfer to an account that does not exist is the committer's
		// to refuse, no longer the database's.
		_, err = db.Write.ExecContext(ctx, `INSERT INTO transfers (op_id, debit_account_id, credit_account_id, amount, kind, object, actor, created_at)
			VALUES ('op3', 1, 99, 1, 'grant', 'grant:3', 'ops', 13)`)
		require.NoError(t, err)

		require.Equal(t, readSchema(t, fresh), readSchema(t, db), "an old database ends with a new database's schema")
	})
}

// foreignKeys lists table's foreign keys as "col -> table(col)".
func foreignKeys(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	return readSchema(t, db).Tables[table].ForeignKeys
}

// schema is a database's schema in terms both dialects share.
type schema struct {
	Tables map[string]*table
}

type table struct {
	Columns     []column
	PrimaryKey  []string
	Unique      []string // column lists of unique constraints, sorted
	Indexes     []index  // named indexes (CREATE INDEX), sorted by name
	ForeignKeys []string // "cols -> table(cols) on delete X", sorted
	Checks      int      // number of CHECK constraints
}

type column struct {
	Name    string
	Type    string // the PostgreSQL name of the type (see sqliteTypes)
	NotNull bool
	Default string // normalized: lower case, without casts; "" for none
}

type index struct {
	Name    string
	Columns string
	Unique  bool
	Where   string // the partial index's predicate, normalized
}

// sqliteTypes maps the types SQLite migrations declare to the PostgreSQL
// types the other dialect must use for the same column. A column whose
// declared type is not here fails the test: add the pair when a migration
// uses a new type.
var sqliteTypes = map[string]string{
	"TEXT":     "text",
	"BIGINT":   "bigint",
	"INTEGER":  "integer",
	"SMALLINT": "smallint",
	"BOOLEAN":  "boolean",
	// An INTEGER PRIMARY KEY is SQLite's rowid, 64-bit and assigned on
	// insert: PostgreSQL's BIGINT GENERATED BY DEFAULT AS IDENTITY.
	"INTEGER PRIMARY KEY": "bigint identity",
}

// schemaExceptions are the known differences between the dialects, each
// with its reason; the test fails when one disappears, so the list stays
// true. Keys are "table.column".
var schemaExceptions = map[string]struct{ sqlite, postgres column }{
	// transfers.flags is INTEGER on SQLite and SMALLINT on PostgreSQL since
	// 00001. SQLite stores both alike (an integer of up to 8 bytes) and
	// the flags fit in a SMALLINT, so no value can tell them apart; a
	// migration rebuilding the ledger's largest table on SQLite only to
	// rename the declared type is not worth its cost.
	"transfers.flags": {
		sqlite:   column{Name: "flags", Type: "integer", NotNull: true, Default: "0"},
		postgres: column{Name: "flags", Type: "smallint", NotNull: true, Default: "0"},
	},
}

// TestSchemasMatch applies every migration of both dialects and compares
// the schemas they make, so that the two cannot drift.
func TestSchemasMatch(t *testing.T) {
	t.Parallel()
	lite := readSchema(t, storetest.MustOpen(t, store.SQLite))
	pg := readSchema(t, storetest.MustOpen(t, store.Postgres))
	require.NotEmpty(t, lite.Tables)
	for key, ex := range schemaExceptions {
		name, col, _ := strings.Cut(key, ".")
		replace := func(s schema, got, with column) {
			tb := s.Tables[name]
			require.NotNil(t, tb, "exception %s names a missing table", key)
			i := slices.IndexFunc(tb.Columns, func(c column) bool { return c.Name == col })
			require.GreaterOrEqual(t, i, 0, "exception %s names a missing column", key)
			require.Equal(t, got, tb.Columns[i], "exception %s no longer matches the schema: update or remove it", key)
			tb.Columns[i] = with
		}
		replace(lite, ex.sqlite, ex.postgres)
		replace(pg, ex.postgres, ex.postgres)
	}
	var names []string
	for n := range lite.Tables {
		names = append(names, n)
	}
	for n := range pg.Tables {
		if lite.Tables[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		require.Equal(t, lite.Tables[n], pg.Tables[n], "table %s: SQLite (expected) and PostgreSQL (actual) differ", n)
	}
}

// readSchema reads db's schema, leaving out goose's own table.
func readSchema(t *testing.T, db *store.DB) schema {
	t.Helper()
	if db.Dialect == store.SQLite {
		return readSQLiteSchema(t, db.Read)
	}
	return readPostgresSchema(t, db.Read)
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rs, err := db.Query(q, args...)
	require.NoError(t, err, q)
	defer rs.Close()
	cols, err := rs.Columns()
	require.NoError(t, err)
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rs.Scan(ptrs...))
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	require.NoError(t, rs.Err())
	return out
}

var (
	spaces   = regexp.MustCompile(`\s+`)
	casts    = regexp.MustCompile(`::(character varying|double precision|[a-z_]+)`)
	checkRe  = regexp.MustCompile(`(?i)\bCHECK\s*\(`)
	wrapping = regexp.MustCompile(`^\((.*)\)$`)
)

// normalize makes a default or a predicate comparable across dialects:
// lower case, single spaces, no casts, no wrapping parentheses.
func normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(s, " ")))
	s = casts.ReplaceAllString(s, "")
	for {
		m := wrapping.FindStringSubmatch(s)
		if m == nil {
			return s
		}
		s = m[1]
	}
}

// predicate normalizes a partial index's predicate: PostgreSQL puts each
// term of an AND in parentheses, which SQLite keeps as written, so
// parentheses are left out of the comparison.
func predicate(s string) string {
	return normalize(strings.NewReplacer("(", "", ")", "").Replace(s))
}

func readSQLiteSchema(t *testing.T, db *sql.DB) schema {
	t.Helper()
	s := schema{Tables: map[string]*table{}}
	for _, r := range queryStrings(t, db, `SELECT name, sql FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`) {
		name, ddl := r[0], r[1]
		tb := &table{Checks: len(checkRe.FindAllString(ddl, -1))}
		s.Tables[name] = tb
		var pk []struct {
			n   string
			pos string
		}
		for _, c := range queryStrings(t, db, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`, name) {
			typ := strings.ToUpper(c[1])
			if typ == "INTEGER" && c[4] == "1" && strings.Contains(strings.ToUpper(ddl), "INTEGER PRIMARY KEY") {
				typ = "INTEGER PRIMARY KEY"
			}
			mapped, ok := sqliteTypes[typ]
			require.True(t, ok, "%s.%s: SQLite type %q has no PostgreSQL counterpart in sqliteTypes", name, c[0], c[1])
			// A primary key column is NOT NULL in PostgreSQL; SQLite
			// reports what the DDL declared.
			notNull := c[2] == "1" || c[4] != "0"
			tb.Columns = append(tb.Columns, column{Name: c[0], Type: mapped, NotNull: notNull, Default: normalize(c[3])})
			if c[4] != "0" {
				pk = append(pk, struct{ n, pos string }{c[0], c[4]})
			}
		}
		sort.Slice(pk, func(i, j int) bool { return pk[i].pos < pk[j].pos })
		for _, p := range pk {
			tb.PrimaryKey = append(tb.PrimaryKey, p.n)
		}
		for _, ix := range queryStrings(t, db, `SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name`, name) {
			var cols []string
			for _, c := range queryStrings(t, db, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, ix[0]) {
				cols = append(cols, c[0])
			}
			switch ix[2] {
			case "pk":
				continue
			case "u":
				tb.Unique = append(tb.Unique, strings.Join(cols, ","))
				continue
			}
			var where string
			if ix[3] == "1" {
				ddl := queryStrings(t, db, `SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`, ix[0])[0][0]
				_, w, _ := strings.Cut(ddl, " WHERE ")
				where = predicate(w)
			}
			tb.Indexes = append(tb.Indexes, index{Name: ix[0], Columns: strings.Join(cols, ","), Unique: ix[1] == "1", Where: where})
		}
		fks := map[string]*[4]string{}
		var ids []string
		for _, fk := range queryStrings(t, db, `SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name) {
			f := fks[fk[0]]
			if f == nil {
				f = &[4]string{"", fk[1], "", strings.ToLower(fk[4])}
				fks[fk[0]] = f
				ids = append(ids, fk[0])
			} else {
				f[0] += ","
				f[2] += ","
			}
			f[0] += fk[2]
			to := fk[3]
			if to == "" {
				to = "id" // REFERENCES t with no column: its primary key
			}
			f[2] += to
		}
		for _, id := range ids {
			f := fks[id]
			tb.ForeignKeys = append(tb.ForeignKeys, fmt.Sprintf("%s -> %s(%s) on delete %s", f[0], f[1], f[2], f[3]))
		}
		sortTable(tb)
	}
	return s
}

func readPostgresSchema(t *testing.T, db *sql.DB) schema {
	t.Helper()
	s := schema{Tables: map[string]*table{}}
	for _, r := range queryStrings(t, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`) {
		s.Tables[r[0]] = &table{}
	}
	for _, c := range queryStrings(t, db, `SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
		FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`) {
		tb := s.Tables[c[0]]
		if tb == nil {
			continue
		}
		typ := c[2]
		if c[5] == "YES" {
			typ += " identity"
		}
		tb.Columns = append(tb.Columns, column{Name: c[1], Type: typ, NotNull: c[3] == "NO", Default: normalize(c[4])})
	}
	// Constraints: primary keys, unique, foreign keys and checks, with
	// their columns in key order.
	for _, c := range queryStrings(t, db, `SELECT cl.relname, con.contype,
			(SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n),
			COALESCE(fcl.relname, ''),
			COALESCE((SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n), ''),
			con.confdeltype
		FROM pg_constraint con
		JOIN pg_class cl ON cl.oid = con.conrelid
		LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
		WHERE cl.relnamespace = current_schema()::regnamespace AND con.contype IN ('p', 'u', 'f', 'c')`) {
		tb := s.Tables[c[0]]
		if tb == nil {
			continue
		}
		switch c[1] {
		case "p":
			tb.PrimaryKey = strings.Split(c[2], ",")
		case "u":
			tb.Unique = append(tb.Unique, c[2])
		case "f":
			onDelete := map[string]string{"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}[c[5]]
			tb.ForeignKeys = append(tb.ForeignKeys, fmt.Sprintf("%s -> %s(%s) on delete %s", c[2], c[3], c[4], onDelete))
		case "c":
			tb.Checks++
		}
	}
	// Named indexes: those that back no constraint.
	for _, ix := range queryStrings(t, db, `SELECT t.relname, i.relname, x.indisunique,
			(SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(x.indkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n),
			COALESCE(pg_get_expr(x.indpred, x.indrelid), '')
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`) {
		tb := s.Tables[ix[0]]
		if tb == nil {
			continue
		}
		tb.Indexes = append(tb.Indexes, index{Name: ix[1], Columns: ix[3], Unique: ix[2] == "true", Where: predicate(ix[4])})
	}
	for _, tb := range s.Tables {
		sortTable(tb)
	}
	return s
}

func sortTable(tb *table) {
	sort.Strings(tb.Unique)
	sort.Strings(tb.ForeignKeys)
	sort.Slice(tb.Indexes, func(i, j int) bool { return tb.Indexes[i].Name < tb.Indexes[j].Name })
}
