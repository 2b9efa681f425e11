package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Report is what Verify checked and what it found wrong.
type Report struct {
	Accounts  int64
	Transfers int64
	Holds     int64
	Assets    []fanfare.Asset
	// Problems lists every difference found (at most MaxProblems of them;
	// ProblemCount counts them all).
	Problems     []string
	ProblemCount int
}

// MaxProblems bounds the problems a Report lists.
const MaxProblems = 100

// OK reports whether Verify found nothing wrong.
func (r *Report) OK() bool { return r.ProblemCount == 0 }

func (r *Report) problem(format string, args ...any) {
	r.ProblemCount++
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// VerifyChunk is how many transfers Verify reads per query.
const VerifyChunk = 50_000

// Verify recomputes every balance from the transfers and checks the ledger
// rules against the stored state:
//   - rule 1: every transfer moves a positive amount between two different
//     accounts of the same asset;
//   - rule 2: per asset, stored balances sum to zero, and every stored balance
//     equals the one recomputed from the transfers;
//   - rule 3: no operation took a user account below zero unless it was a
//     clawback (a transfer flagged to allow it, of a clawback kind:
//     IsClawback), and nothing but a clawback debited an account while it
//     was below zero; the flag on a transfer of another kind counts as
//     spending, and its problem says so;
//   - rule 5: every hold has exactly one creating transfer of its amount, a
//     pending hold has no resolution and a resolved one exactly one, and each
//     escrow account holds exactly the sum of its pending holds;
//   - daily totals: account_days holds, for each user diamond account, day
//     and kind, the sums of its transfers (see Days), and platform_days
//     the same for each system account (see PlatformDays);
//   - supporter totals: account_supporters holds, for each creator's
//     diamond account, fan's coin account and kind (and across kinds), what
//     the transfers and holds give by the supporter rule (see Supporters).
//
// progress, if not nil, is called with the transfers read so far and their
// total. Verify reads a consistent snapshot on PostgreSQL; on SQLite it reads
// in one read transaction.
func (l *Ledger) Verify(ctx context.Context, progress func(done, total int64)) (*Report, error) {
	tx, err := l.db.Read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: l.snapshotLevel()})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer tx.Rollback()
	r := &Report{}

	type account struct {
		owner         string
		asset         fanfare.Asset
		system        bool
		stored, recal int64
		// rule 3 bookkeeping: the operation being replayed on this account
		op       string
		opDelta  int64
		opSpends bool   // a debit of the op is not a clawback
		opKind   string // the op's kind when a debit of it is flagged but it is not a clawback
	}
	accts := map[AccountID]*account{}
	rs, err := tx.QueryContext(ctx, `SELECT id, owner, asset, system, balance FROM accounts`)
	if err != nil {
		return nil, fmt.Errorf("verify: read accounts: %w", err)
	}
	for rs.Next() {
		var id AccountID
		a := &account{}
		var asset string
		if err := rs.Scan(&id, &a.owner, &asset, &a.system, &a.stored); err != nil {
			rs.Close()
			return nil, fmt.Errorf("verify: read accounts: %w", err)
		}
		a.asset = fanfare.Asset(asset)
		accts[id] = a
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("verify: read accounts: %w", err)
	}
	r.Accounts = int64(len(accts))

	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM transfers`).Scan(&total); err != nil {
		return nil, fmt.Errorf("verify: count transfers: %w", err)
	}

	// finish applies the operation being replayed on a user account and
	// checks rule 3 at its end.
	finish := func(id AccountID, a *account) {
		if a.op == "" {
			return
		}
		before := a.recal
		a.recal += a.opDelta
		if a.opSpends && a.opDelta < 0 {
			why := ""
			if a.opKind != "" {
				why = fmt.Sprintf(" (flagged to allow it, but %q is not a clawback kind)", a.opKind)
			}
			if before < 0 {
				r.problem("rule 3: operation %s spent from account %d (%s %s) while it was frozen at %d%s", a.op, id, a.owner, a.asset, before, why)
			} else if a.recal < 0 {
				r.problem("rule 3: operation %s took account %d (%s %s) below zero to %d%s", a.op, id, a.owner, a.asset, a.recal, why)
			}
		}
		a.op, a.opDelta, a.opSpends, a.opKind = "", 0, false, ""
	}

	type holdSeen struct {
		creates, posts, voids int
		createAmount          int64
		createDebit           AccountID
		resolveTo             AccountID
		resolveAmount         int64
		escrow                AccountID
	}
	holdTransfers := map[string]*holdSeen{}

	var after int64 = 0
	var done int64
	for {
		// The kind matters only where a debit is flagged to allow a
		// negative balance (rule 3): it is read only there.
		rs, err := tx.QueryContext(ctx, `SELECT id, op_id, debit_account_id, credit_account_id, amount, flags, hold_id,
				CASE WHEN flags & `+strconv.Itoa(FlagAllowNegative)+` <> 0 THEN kind ELSE '' END
			FROM transfers WHERE id > $1 ORDER BY id LIMIT $2`, after, VerifyChunk)
		if err != nil {
			return nil, fmt.Errorf("verify: read transfers: %w", err)
		}
		n := 0
		for rs.Next() {
			var id, amount, flags int64
			var opID, kind string
			var debit, credit AccountID
			var holdID sql.NullString
			if err := rs.Scan(&id, &opID, &debit, &credit, &amount, &flags, &holdID, &kind); err != nil {
				rs.Close()
				return nil, fmt.Errorf("verify: read transfers: %w", err)
			}
			n++
			after = id
			da, ca := accts[debit], accts[credit]
			switch {
			case da == nil || ca == nil:
				r.problem("rule 1: transfer %d names an unknown account", id)
				continue
			case amount <= 0:
				r.problem("rule 1: transfer %d moves a non-positive amount %d", id, amount)
			case debit == credit:
				r.problem("rule 1: transfer %d debits and credits account %d", id, debit)
			case da.asset != ca.asset:
				r.problem("rule 1: transfer %d moves %s into a %s account", id, da.asset, ca.asset)
			}
			for _, side := range [2]struct {
				id    AccountID
				a     *account
				delta int64
			}{{debit, da, -amount}, {credit, ca, amount}} {
				a := side.a
				if a.system {
					a.recal += side.delta
					continue
				}
				if a.op != opID {
					finish(side.id, a)
					a.op = opID
				}
				a.opDelta += side.delta
				if side.delta < 0 && (flags&FlagAllowNegative == 0 || !IsClawback(kind)) {
					a.opSpends = true
					if flags&FlagAllowNegative != 0 {
						a.opKind = kind
					}
				}
			}
			if holdID.Valid {
				h := holdTransfers[holdID.String]
				if h == nil {
					h = &holdSeen{}
					holdTransfers[holdID.String] = h
				}
				switch {
				case flags&FlagHoldCreate != 0:
					h.creates++
					h.createAmount, h.createDebit, h.escrow = amount, debit, credit
				case flags&FlagHoldPost != 0:
					h.posts++
					h.resolveTo, h.resolveAmount = credit, amount
				case flags&FlagHoldVoid != 0:
					h.voids++
					h.resolveTo, h.resolveAmount = credit, amount
				}
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("verify: read transfers: %w", err)
		}
		done += int64(n)
		if progress != nil {
			progress(done, max(total, done))
		}
		if n < VerifyChunk {
			break
		}
	}
	r.Transfers = done

	// Rule 2: recomputed equals stored, and every asset sums to zero.
	sums := map[fanfare.Asset]int64{}
	ids := make([]AccountID, 0, len(accts))
	for id := range accts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := accts[id]
		if !a.system {
			finish(id, a)
		}
		if a.recal != a.stored {
			r.problem("rule 2: account %d (%s %s) stores %d but its transfers give %d", id, a.owner, a.asset, a.stored, a.recal)
		}
		sums[a.asset] += a.stored
	}
	for asset, s := range sums {
		r.Assets = append(r.Assets, asset)
		if s != 0 {
			r.problem("rule 2: %s balances sum to %d, not 0", asset, s)
		}
	}
	slices.Sort(r.Assets)

	// Rule 5: holds.
	escrowPending := map[AccountID]int64{}
	rs, err = tx.QueryContext(ctx, `SELECT id, debit_account_id, credit_account_id, escrow_account_id, amount, state FROM holds`)
	if err != nil {
		return nil, fmt.Errorf("verify: read holds: %w", err)
	}
	known := map[string]bool{}
	for rs.Next() {
		var id, state string
		var debit, credit, escrow AccountID
		var amount int64
		if err := rs.Scan(&id, &debit, &credit, &escrow, &amount, &state); err != nil {
			rs.Close()
			return nil, fmt.Errorf("verify: read holds: %w", err)
		}
		r.Holds++
		known[id] = true
		h := holdTransfers[id]
		if h == nil {
			h = &holdSeen{}
		}
		if h.creates != 1 || h.createAmount != amount || h.createDebit != debit || h.escrow != escrow {
			r.problem("rule 5: hold %s has %d creating transfers (want exactly one of %d from %d into escrow)", id, h.creates, amount, debit)
		}
		resolutions := h.posts + h.voids
		switch state {
		case "pending":
			if resolutions != 0 {
				r.problem("rule 5: pending hold %s already has %d resolving transfers", id, resolutions)
			}
			escrowPending[escrow] += amount
		case "posted":
			if h.posts != 1 || h.voids != 0 || h.resolveTo != credit || h.resolveAmount != amount {
				r.problem("rule 5: posted hold %s has %d posts and %d voids (want one post of %d to %d)", id, h.posts, h.voids, amount, credit)
			}
		case "voided":
			if h.voids != 1 || h.posts != 0 || h.resolveTo != debit || h.resolveAmount != amount {
				r.problem("rule 5: voided hold %s has %d voids and %d posts (want one void of %d to %d)", id, h.voids, h.posts, amount, debit)
			}
		default:
			r.problem("rule 5: hold %s has unknown state %q", id, state)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("verify: read holds: %w", err)
	}
	for id := range holdTransfers {
		if !known[id] {
			r.problem("rule 5: transfers name hold %s, which does not exist", id)
		}
	}
	for _, id := range ids {
		a := accts[id]
		if a.system && strings.HasPrefix(a.owner, "system:"+Escrow) && a.stored != escrowPending[id] {
			r.problem("rule 5: escrow account %d (%s) holds %d but its pending holds total %d", id, a.asset, a.stored, escrowPending[id])
		}
	}
	if err := verifyDays(ctx, tx, r, userDays, sqlDiamondTransfers); err != nil {
		return nil, err
	}
	if err := verifyDays(ctx, tx, r, platformDays, sqlSystemTransfers); err != nil {
		return nil, err
	}
	if l.db.Dialect == store.Postgres {
		// The supporter check joins two aggregates of every transfer. Its
		// estimates come from the table statistics, which lag behind a
		// bulk load (autovacuum analyzes later): a plan made on "a few
		// hundred transfers" nests one loop in the other, quadratic in the
		// transfers (200,000 gifts ran for more than 15 minutes). Hash
		// joins are right at any size here.
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_nestloop = off`); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	if err := verifySupporters(ctx, tx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// dayKey names a row of account_days.
type dayKey struct {
	account AccountID
	day     int64
	kind    string
}

// verifyDays checks that the daily totals of table (account_days: the
// users' diamond accounts; platform_days: the system accounts) are the
// sums of their transfers (listed by transfers), day by day and kind by
// kind, and that each row's last_credit_at is its day's last credit.
func verifyDays(ctx context.Context, tx *sql.Tx, r *Report, table, transfers string) error {
	what := "daily totals"
	if table == platformDays {
		what = "platform daily totals"
	}
	type totals struct{ credited, debited, last int64 } // last: 0 for none
	want := map[dayKey]totals{}
	rs, err := tx.QueryContext(ctx, `SELECT account_id, day, kind, SUM(credited), SUM(debited), MAX(last_at) FROM (`+transfers+`) d
		GROUP BY account_id, day, kind`)
	if err != nil {
		return fmt.Errorf("verify: sum the transfers of %s by day: %w", table, err)
	}
	for rs.Next() {
		var k dayKey
		var v totals
		var last sql.NullInt64
		if err := rs.Scan(&k.account, &k.day, &k.kind, &v.credited, &v.debited, &last); err != nil {
			rs.Close()
			return fmt.Errorf("verify: sum the transfers of %s by day: %w", table, err)
		}
		v.last = last.Int64
		want[k] = v
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("verify: sum the transfers of %s by day: %w", table, err)
	}
	rs, err = tx.QueryContext(ctx, `SELECT account_id, day, kind, credited, debited, last_credit_at FROM `+table)
	if err != nil {
		return fmt.Errorf("verify: read %s: %w", table, err)
	}
	defer rs.Close()
	for rs.Next() {
		var k dayKey
		var got totals
		var last sql.NullInt64
		if err := rs.Scan(&k.account, &k.day, &k.kind, &got.credited, &got.debited, &last); err != nil {
			return fmt.Errorf("verify: read %s: %w", table, err)
		}
		got.last = last.Int64
		w, ok := want[k]
		delete(want, k)
		if !ok && got == (totals{}) {
			continue
		}
		if got.credited != w.credited || got.debited != w.debited {
			r.problem("%s: account %d, day %s, %s: stored +%d −%d, the transfers give +%d −%d",
				what, k.account, dayDate(k.day), k.kind, got.credited, got.debited, w.credited, w.debited)
		} else if got.last != w.last {
			r.problem("%s: account %d, day %s, %s: last credit stored at %s, the transfers give %s",
				what, k.account, dayDate(k.day), k.kind, microsTime(got.last), microsTime(w.last))
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("verify: read %s: %w", table, err)
	}
	for k, w := range want {
		r.problem("%s: account %d, day %s, %s: none stored, the transfers give +%d −%d", what, k.account, dayDate(k.day), k.kind, w.credited, w.debited)
	}
	return nil
}

// microsTime writes a time in microseconds since 1970, 0 for none.
func microsTime(us int64) string {
	if us == 0 {
		return "none"
	}
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

// sqlDiamondTransfers lists the transfers into and out of the users'
// diamond accounts as (account_id, day, kind, credited, debited, last_at):
// what account_days sums (its migrations fill it from the same rows).
const sqlDiamondTransfers = `SELECT t.credit_account_id AS account_id, t.created_at / 86400000000 AS day, t.kind AS kind,
		t.amount AS credited, 0 AS debited, t.created_at AS last_at
	FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
	WHERE a.asset = 'DIAMOND' AND NOT a.system
	UNION ALL
	SELECT t.debit_account_id, t.created_at / 86400000000, t.kind, 0, t.amount, NULL
	FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
	WHERE a.asset = 'DIAMOND' AND NOT a.system`

// sqlSystemTransfers lists the transfers into and out of the system
// accounts likewise: what platform_days sums (migration 00026 fills it
// from the same rows).
const sqlSystemTransfers = `SELECT t.credit_account_id AS account_id, t.created_at / 86400000000 AS day, t.kind AS kind,
		t.amount AS credited, 0 AS debited, t.created_at AS last_at
	FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
	WHERE a.system
	UNION ALL
	SELECT t.debit_account_id, t.created_at / 86400000000, t.kind, 0, t.amount, NULL
	FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
	WHERE a.system`

// dayDate writes day (days since 1970-01-01) as a date.
func dayDate(day int64) string {
	return time.UnixMicro(day * microsPerDay).UTC().Format(time.DateOnly)
}

func (l *Ledger) snapshotLevel() sql.IsolationLevel {
	if l.db.Dialect == "postgres" {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}
