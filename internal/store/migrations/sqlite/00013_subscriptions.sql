-- +goose Up
-- subscription_plans: a creator's LIVE Subscription plan (off until turned
-- on); its tiers are subscription_tiers.
CREATE TABLE subscription_plans (
    creator_id TEXT PRIMARY KEY REFERENCES users (id),
    enabled    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

-- subscription_tiers: a plan's tiers, 1 to 3, in position order. Ids stay
-- the same across edits; a tier taken off the plan is retired: nobody new
-- may choose it, its subscribers keep it.
CREATE TABLE subscription_tiers (
    id         TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES users (id),
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    price      BIGINT NOT NULL CHECK (price > 0),
    perks      TEXT NOT NULL,
    retired    BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscription_tiers_creator ON subscription_tiers (creator_id, retired, position);

-- subscriptions: a fan's subscription to a creator, written by the ledger
-- operation that pays its first period (or the gifter's), then by each
-- renewal's (times in Unix microseconds). periods is how many periods this
-- subscription paid; period k ends k - anchor_n periods (calendar months,
-- or the configured duration) after anchor, so month ends stay put; a
-- renewal paid late, in grace, moves the anchor to when it was paid. state is
-- active (paid, or gifted, to period_end), grace (a renewal failed: access
-- kept to grace_until, retried at retry_at) or ended (end_reason says why).
-- A pending price change (renew_price from renew_price_from on) and a tier
-- change (next_tier_id) apply at the next renewal.
CREATE TABLE subscriptions (
    id               TEXT PRIMARY KEY,
    fan_id           TEXT NOT NULL REFERENCES users (id),
    creator_id       TEXT NOT NULL REFERENCES users (id),
    tier_id          TEXT NOT NULL REFERENCES subscription_tiers (id),
    price            BIGINT NOT NULL CHECK (price > 0),
    share_bps        BIGINT NOT NULL CHECK (share_bps >= 0 AND share_bps <= 10000),
    renew_price      BIGINT,
    renew_price_from BIGINT,
    next_tier_id     TEXT,
    state            TEXT NOT NULL,
    auto_renew       BOOLEAN NOT NULL,
    gifted_by        TEXT REFERENCES users (id),
    anchor           BIGINT NOT NULL,
    anchor_n         INTEGER NOT NULL,
    periods          INTEGER NOT NULL,
    period_start     BIGINT NOT NULL,
    period_end       BIGINT NOT NULL,
    grace_until      BIGINT,
    retry_at         BIGINT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    failure          TEXT NOT NULL DEFAULT '',
    end_reason       TEXT NOT NULL DEFAULT '',
    cancelled_at     BIGINT,
    ended_at         BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
-- One open subscription per fan and creator.
CREATE UNIQUE INDEX subscriptions_open ON subscriptions (fan_id, creator_id) WHERE state <> 'ended';
CREATE INDEX subscriptions_fan ON subscriptions (fan_id, created_at, id);
CREATE INDEX subscriptions_creator ON subscriptions (creator_id, state, created_at, id);
CREATE INDEX subscriptions_tier ON subscriptions (tier_id) WHERE state <> 'ended';
-- The renewals and retries due (the sweep).
CREATE INDEX subscriptions_due ON subscriptions (period_end) WHERE state = 'active';
CREATE INDEX subscriptions_retry_due ON subscriptions (retry_at) WHERE state = 'grace';

-- subscription_periods: every period paid (or gifted), one row each, by
-- the ledger operation that paid it: what a fan's tenure counts.
CREATE TABLE subscription_periods (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    n               INTEGER NOT NULL,
    fan_id          TEXT NOT NULL,
    creator_id      TEXT NOT NULL,
    tier_id         TEXT NOT NULL,
    price           BIGINT NOT NULL,
    op_id           TEXT NOT NULL,
    gifted_by       TEXT,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, n)
);
CREATE INDEX subscription_periods_tenure ON subscription_periods (fan_id, creator_id, starts_at);

-- user_preferences: a user's choices that others' actions depend on.
CREATE TABLE user_preferences (
    user_id                     TEXT PRIMARY KEY REFERENCES users (id),
    accept_gifted_subscriptions BOOLEAN NOT NULL,
    updated_at                  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE user_preferences;
DROP TABLE subscription_periods;
DROP TABLE subscriptions;
DROP TABLE subscription_tiers;
DROP TABLE subscription_plans;
