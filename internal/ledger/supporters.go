package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Supporters: what each fan gave each creator, kept by the committer in
// account_supporters (one row per creator's diamond account, fan's coin
// account and operation kind, and one row per pair with kind "" holding
// the totals across kinds), so that a creator's supporter list reads
// these rows instead of a year of transfers. Verify checks them.
//
// The rule, per committed operation: the payer is the one user COIN
// account the operation debits (for a hold's post, the hold's payer), and
// the payees are the user DIAMOND accounts it credits; coins are what the
// payer paid in the operation, diamonds what each payee received. A
// clawback (IsClawback) that credits a fan's coins and debits a creator's
// diamonds (a refunded shoutout) subtracts both, and leaves the count of
// operations and the first and last times as they were. An operation with
// no such pair (a purchase, a grant, a hold made or voided, two payers)
// adds nothing. Hold creates and voids never count: only the post pays the
// creator.

// supporterRow is what one batch adds to a row of account_supporters.
type supporterRow struct {
	account, payer int64
	kind           string
	coins          int64
	diamonds       int64
	ops            int64
}

// supportLeg is a transfer as the supporter rule reads it: holdPayer is
// the payer of the hold a HoldPost leg pays out.
type supportLeg struct {
	debit, credit AccountID
	amount        int64
	flags         int64
	holdPayer     AccountID
}

// supportOf applies the supporter rule to the legs of one operation of
// kind: it calls add for each payee with the payer and the signed coins
// and diamonds, and reports whether it added (an addition, not a
// subtraction). asset says what a user account holds ("" for a system or
// unknown account).
func supportOf(kind string, legs []supportLeg, asset func(AccountID) fanfare.Asset, add func(payee, payer AccountID, coins, diamonds int64)) {
	claw := IsClawback(kind)
	var payer AccountID
	var coins int64
	type payee struct {
		id       AccountID
		diamonds int64
	}
	var payees []payee
	for _, g := range legs {
		if g.flags&(FlagHoldCreate|FlagHoldVoid) != 0 {
			continue
		}
		from, to := g.debit, g.credit
		if claw {
			from, to = g.credit, g.debit
		} else if g.flags&FlagHoldPost != 0 {
			from = g.holdPayer
		}
		if asset(from) == fanfare.Coin {
			if payer != 0 && payer != from {
				return // two payers: nobody's support alone
			}
			payer = from
			coins += g.amount
		}
		if asset(to) == fanfare.Diamond {
			i := slices.IndexFunc(payees, func(p payee) bool { return p.id == to })
			if i < 0 {
				payees = append(payees, payee{id: to})
				i = len(payees) - 1
			}
			payees[i].diamonds += g.amount
		}
	}
	if payer == 0 {
		return
	}
	sign := int64(1)
	if claw {
		sign = -1
	}
	for _, p := range payees {
		add(p.id, payer, sign*coins, sign*p.diamonds)
	}
}

// writeSupporters adds the batch's operations to account_supporters: one
// row per creator, fan and kind, and one per creator and fan across kinds
// (kind ""), sorted in one order for every batch and written in bulk.
func (b *batch) writeSupporters(ctx context.Context) error {
	type key struct {
		account, payer AccountID
		kind           string
	}
	var sums map[key]*supporterRow
	asset := func(id AccountID) fanfare.Asset {
		if a := b.accts[id]; a != nil && !a.system {
			return a.asset
		}
		return ""
	}
	var legs []supportLeg
	for i := 0; i < len(b.rows); {
		j := i + 1
		for j < len(b.rows) && b.rows[j].opID == b.rows[i].opID {
			j++
		}
		legs = legs[:0]
		diamonds := false
		for _, r := range b.rows[i:j] {
			g := supportLeg{debit: r.debit, credit: r.credit, amount: r.amount, flags: r.flags}
			if r.flags&FlagHoldPost != 0 && r.holdID.Valid {
				if h := b.holds[r.holdID.String]; h != nil {
					g.holdPayer = h.debit
				}
			}
			diamonds = diamonds || asset(r.debit) == fanfare.Diamond || asset(r.credit) == fanfare.Diamond
			legs = append(legs, g)
		}
		kind := b.rows[i].kind
		i = j
		if !diamonds {
			continue // no creator's diamonds moved: nothing to look for
		}
		supportOf(kind, legs, asset, func(payee, payer AccountID, coins, dia int64) {
			if sums == nil {
				sums = map[key]*supporterRow{}
			}
			ops := int64(0)
			if coins > 0 || dia > 0 {
				ops = 1
			}
			for _, k := range [2]key{{payee, payer, kind}, {payee, payer, ""}} {
				r := sums[k]
				if r == nil {
					r = &supporterRow{account: int64(payee), payer: int64(payer), kind: k.kind}
					sums[k] = r
				}
				r.coins += coins
				r.diamonds += dia
				r.ops += ops
			}
		})
	}
	if len(sums) == 0 {
		return nil
	}
	rows := make([]supporterRow, 0, len(sums))
	for _, r := range sums {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(x, y supporterRow) int { // one order for every batch: no deadlock between nodes
		return cmp.Or(cmp.Compare(x.account, y.account), cmp.Compare(x.payer, y.payer), cmp.Compare(x.kind, y.kind))
	})
	if err := b.w.addSupporters(ctx, b.tx, rows, b.now.UnixMicro()); err != nil {
		return fmt.Errorf("add supporter totals: %w", err)
	}
	return nil
}

// sqlAddSupportersUpdate ends the statements that add to
// account_supporters: first_at and last_at move only with operations that
// added (ops > 0); a row that only ever had subtractions takes the times
// of the first addition.
const sqlAddSupportersUpdate = ` ON CONFLICT (account_id, payer_id, kind) DO UPDATE SET
	coins = account_supporters.coins + excluded.coins, diamonds = account_supporters.diamonds + excluded.diamonds,
	ops = account_supporters.ops + excluded.ops,
	first_at = CASE WHEN excluded.ops > 0 AND (account_supporters.ops = 0 OR excluded.first_at < account_supporters.first_at)
		THEN excluded.first_at ELSE account_supporters.first_at END,
	last_at = CASE WHEN excluded.ops > 0 AND (account_supporters.ops = 0 OR excluded.last_at > account_supporters.last_at)
		THEN excluded.last_at ELSE account_supporters.last_at END`

// supporterKey names a row of account_supporters.
type supporterKey struct {
	account, payer AccountID
	kind           string
}

// supporterSums are a row's figures: coins, diamonds, ops, first_at,
// last_at.
type supporterSums [5]int64

// verifySupporters checks that account_supporters holds what the
// transfers and holds give by the supporter rule.
func verifySupporters(ctx context.Context, tx *sql.Tx, r *Report) error {
	want := map[supporterKey]supporterSums{}
	rs, err := tx.QueryContext(ctx, sqlSupporters)
	if err != nil {
		return fmt.Errorf("verify: sum the supporters: %w", err)
	}
	for rs.Next() {
		var k supporterKey
		var v supporterSums
		if err := rs.Scan(&k.account, &k.payer, &k.kind, &v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			rs.Close()
			return fmt.Errorf("verify: sum the supporters: %w", err)
		}
		want[k] = v
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("verify: sum the supporters: %w", err)
	}
	rs, err = tx.QueryContext(ctx, `SELECT account_id, payer_id, kind, coins, diamonds, ops, first_at, last_at FROM account_supporters`)
	if err != nil {
		return fmt.Errorf("verify: read account_supporters: %w", err)
	}
	defer rs.Close()
	show := func(v supporterSums) string {
		return fmt.Sprintf("%d coins, %d diamonds, %d operations, first %s, last %s", v[0], v[1], v[2],
			time.UnixMicro(v[3]).UTC().Format(time.RFC3339Nano), time.UnixMicro(v[4]).UTC().Format(time.RFC3339Nano))
	}
	for rs.Next() {
		var k supporterKey
		var got supporterSums
		if err := rs.Scan(&k.account, &k.payer, &k.kind, &got[0], &got[1], &got[2], &got[3], &got[4]); err != nil {
			return fmt.Errorf("verify: read account_supporters: %w", err)
		}
		w, ok := want[k]
		delete(want, k)
		switch {
		case !ok:
			r.problem("supporter totals: account %d, payer %d, kind %q: stored %s, the transfers give none", k.account, k.payer, k.kind, show(got))
		case got != w:
			r.problem("supporter totals: account %d, payer %d, kind %q: stored %s, the transfers give %s", k.account, k.payer, k.kind, show(got), show(w))
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("verify: read account_supporters: %w", err)
	}
	for k, w := range want {
		r.problem("supporter totals: account %d, payer %d, kind %q: none stored, the transfers give %s", k.account, k.payer, k.kind, show(w))
	}
	return nil
}

// sqlSupporters computes account_supporters from the transfers and holds
// by the supporter rule, as (account_id, payer_id, kind, coins, diamonds,
// ops, first_at, last_at): verify compares it with the stored rows, and
// migration 00018 filled the table with the same query. Flags: 4 is
// FlagHoldPost, 10 FlagHoldCreate|FlagHoldVoid; the kinds are IsClawback's.
const sqlSupporters = `WITH legs AS (
    SELECT t.op_id, t.kind, t.created_at, t.amount,
        CASE WHEN t.kind IN ('chargeback', 'refund', 'shoutout_refund') THEN -1 ELSE 1 END AS sign,
        CASE WHEN t.kind IN ('chargeback', 'refund', 'shoutout_refund') THEN t.credit_account_id
            WHEN t.flags & 4 <> 0 THEN h.debit_account_id ELSE t.debit_account_id END AS payer,
        CASE WHEN t.kind IN ('chargeback', 'refund', 'shoutout_refund') THEN t.debit_account_id
            ELSE t.credit_account_id END AS payee
    FROM transfers t LEFT JOIN holds h ON h.id = t.hold_id
    WHERE t.flags & 10 = 0
), payers AS (
    SELECT l.op_id, MIN(l.payer) AS payer, SUM(l.amount) AS coins
    FROM legs l JOIN accounts a ON a.id = l.payer
    WHERE a.asset = 'COIN' AND NOT a.system
    GROUP BY l.op_id HAVING COUNT(DISTINCT l.payer) = 1
), payees AS (
    SELECT l.op_id, l.payee, MIN(l.kind) AS kind, MIN(l.sign) AS sign, MIN(l.created_at) AS at, SUM(l.amount) AS diamonds
    FROM legs l JOIN accounts a ON a.id = l.payee
    WHERE a.asset = 'DIAMOND' AND NOT a.system
    GROUP BY l.op_id, l.payee
), per_op AS (
    SELECT e.payee AS account_id, p.payer AS payer_id, e.kind, e.sign, e.at, p.coins * e.sign AS coins, e.diamonds * e.sign AS diamonds
    FROM payees e JOIN payers p ON p.op_id = e.op_id
)
SELECT account_id, payer_id, kind, SUM(coins), SUM(diamonds), SUM(CASE WHEN sign > 0 THEN 1 ELSE 0 END),
    COALESCE(MIN(CASE WHEN sign > 0 THEN at END), MIN(at)), COALESCE(MAX(CASE WHEN sign > 0 THEN at END), MIN(at))
FROM per_op GROUP BY account_id, payer_id, kind
UNION ALL
SELECT account_id, payer_id, '', SUM(coins), SUM(diamonds), SUM(CASE WHEN sign > 0 THEN 1 ELSE 0 END),
    COALESCE(MIN(CASE WHEN sign > 0 THEN at END), MIN(at)), COALESCE(MAX(CASE WHEN sign > 0 THEN at END), MIN(at))
FROM per_op GROUP BY account_id, payer_id`

// Owners returns the owners of accounts ids (at most a page's worth):
// the user ids of a supporter list's fans.
func (l *Ledger) Owners(ctx context.Context, ids []AccountID) (map[AccountID]string, error) {
	out := make(map[AccountID]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var in strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "$%d", i+1)
		args[i] = int64(id)
	}
	rs, err := l.db.Read.QueryContext(ctx, `SELECT id, owner FROM accounts WHERE id IN (`+in.String()+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read owners: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id AccountID
		var owner string
		if err := rs.Scan(&id, &owner); err != nil {
			return nil, fmt.Errorf("read owners: %w", err)
		}
		out[id] = owner
	}
	return out, rs.Err()
}
