// Package settings keeps the operator's run-time configuration: the coin
// packs and their prices, each feature's creator share, the tip bounds,
// the spending and purchase limits, the payout rates and bounds, the
// shoutout windows and price bounds, the subscription bounds and grace.
//
// The document is stored whole (table settings, one row with a version),
// and every change is written to the audit log with the changed fields
// before and after. The environment and flags give the defaults at the
// first start; afterwards the stored document wins. A change is in force
// at once on the node that made it and within PollInterval on the others,
// which poll the stored version.
//
// Features never import settings: internal/app gives Open an Apply that
// calls each service's setter (wallet.Service.SetCatalog and SetLimits,
// live.Service.SetGiftShare, tips.Service.SetTerms, ...). Eligibility
// rules, the per-region switches of each feature, stay in
// internal/eligibility, stored and cached for at most
// eligibility.RulesCacheTTL.
package settings
