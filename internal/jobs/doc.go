// Package jobs is Fanfare's durable job queue, on River
// (github.com/riverqueue/river): deadlines, and later renewals, payouts and
// webhook deliveries. A job is inserted in the database transaction of the
// change that needs it (InsertTx), so it exists exactly when that change
// commits; for money, that is the ledger committer's batch transaction,
// which an operation's Effect receives. Handlers run on the server that
// started the queue, and a periodic task (Every) sweeps up any deadline a
// job missed, once at Start and then at an interval.
//
// Drivers. On SQLite the queue runs River's riversqlite driver on the
// store's single write connection (store.DB.Write): River waits for that
// connection like every other writer (the ledger's committer takes it for a
// batch and gives it back) rather than opening a second writer that would
// meet SQLITE_BUSY. On PostgreSQL it runs riverdatabasesql on the store's
// pool (pgx through database/sql): Effects see a *sql.Tx, which
// riverdatabasesql takes as it is, where riverpgxv5 would want a pgx.Tx
// that the committer's database/sql transaction cannot give. Both drivers
// poll (no LISTEN connection, no second SQLite writer).
//
// Handlers must be idempotent: a job may run more than once (a crash after
// its work committed and before River marked it completed). A handler's
// error retries the job with River's backoff. Stop stops fetching, lets
// running jobs finish until its context ends, then cancels them (they are
// retried); a job left running by a process that died is rescued by
// another worker once Options.RescueAfter has passed.
//
// River's tables come from River's own migrations, which this package
// registers with the store (store.RegisterMigrations): `fanfare migrate`,
// serve's automatic migration and /readyz's pending check cover them.
//
// jobs imports the fanfare root package and internal/store; internal/app,
// cmd/fanfare and feature packages may import it.
package jobs
