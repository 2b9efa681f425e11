package ledger

import (
	"fmt"
	"regexp"
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
