package ledger

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// The ledger's tables (accounts, transfers, holds, idempotency_keys) are
// named in SQL only in this package: a feature's Writes and Effect run in
// the ledger's transaction and must not touch them, and a feature that needs
// a ledger fact in its own query takes the SQL for it from here. A test
// (tables_test.go) fails on SQL naming them anywhere else.

var (
	queryParam = regexp.MustCompile(`^\$[1-9][0-9]*$`)
	columnName = regexp.MustCompile(`^([a-z_]+\.)?[a-z_]+$`)
)

// FrozenSQL returns an SQL boolean expression, for a feature's own query,
// that is true when the account whose id is the query parameter param
// ("$3") may not be debited because it is frozen or below zero, and false
// when it may or when there is no such account (a wallet not opened yet).
// It lets a feature read a wallet's state with its own rows in one query;
// the committer refuses a frozen wallet's debits whatever the feature read,
// so the expression serves early refusals only. It panics if param is not a
// query parameter.
func FrozenSQL(param string) string {
	if !queryParam.MatchString(param) {
		panic(fmt.Sprintf("ledger: FrozenSQL(%q): want a query parameter such as $1", param))
	}
	return `COALESCE((SELECT a.frozen OR a.balance < 0 FROM accounts a WHERE a.id = ` + param + `), FALSE)`
}

// UserFrozenSQL is FrozenSQL for the wallet of the user whose id is column
// owner ("u.id") in asset, the query parameter param: for a query over many
// users at once. It panics if owner is not a column name or param not a
// query parameter.
func UserFrozenSQL(owner, param string) string {
	if !columnName.MatchString(owner) || !queryParam.MatchString(param) {
		panic(fmt.Sprintf("ledger: UserFrozenSQL(%q, %q): want a column and a query parameter", owner, param))
	}
	return `COALESCE((SELECT a.frozen OR a.balance < 0 FROM accounts a WHERE a.owner = ` + owner + ` AND a.asset = ` + param + `), FALSE)`
}

// SystemBalance returns the balance of system account name in asset, zero
// when it does not exist yet. It reads committed state and creates
// nothing (verify runs it).
func (l *Ledger) SystemBalance(ctx context.Context, name string, asset fanfare.Asset) (fanfare.Amount, error) {
	var b fanfare.Amount
	err := l.db.Read.QueryRowContext(ctx, `SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE owner = $1 AND asset = $2`,
		"system:"+name, string(asset)).Scan(&b)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// SystemAssets returns the assets of the system accounts whose name starts
// with prefix ("fiat_payable:"), sorted.
func (l *Ledger) SystemAssets(ctx context.Context, prefix string) ([]fanfare.Asset, error) {
	rs, err := l.db.Read.QueryContext(ctx, `SELECT DISTINCT asset FROM accounts WHERE system AND owner LIKE $1 ORDER BY asset`,
		"system:"+strings.ReplaceAll(prefix, "%", "")+"%")
	if err != nil {
		return nil, fmt.Errorf("read system accounts: %w", err)
	}
	defer rs.Close()
	var out []fanfare.Asset
	for rs.Next() {
		var a string
		if err := rs.Scan(&a); err != nil {
			return nil, fmt.Errorf("read system accounts: %w", err)
		}
		out = append(out, fanfare.Asset(a))
	}
	return out, rs.Err()
}

// OpIDs returns the ids of the operations of the given kinds: verify
// checks a feature's rows against them. It reads every transfer of those
// kinds.
func (l *Ledger) OpIDs(ctx context.Context, kinds ...string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range kinds {
		rs, err := l.db.Read.QueryContext(ctx, `SELECT DISTINCT op_id FROM transfers WHERE kind = $1`, k)
		if err != nil {
			return nil, fmt.Errorf("read operations: %w", err)
		}
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return nil, fmt.Errorf("read operations: %w", err)
			}
			out[id] = true
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("read operations: %w", err)
		}
	}
	return out, nil
}

// OwnerSQL is an SQL expression, for a feature's own query, of the owner
// (a user id) of the account whose id is column account ("s.payer_id"):
// the supporter list joins its fans' users through it. It panics if
// account is not a column name.
func OwnerSQL(account string) string {
	if !columnName.MatchString(account) {
		panic(fmt.Sprintf("ledger: OwnerSQL(%q): want a column", account))
	}
	return `(SELECT a.owner FROM accounts a WHERE a.id = ` + account + `)`
}
