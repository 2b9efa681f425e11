-- +goose Up
-- eligibility_rules holds the operator's rule per feature (JSON, the
-- eligibility package's Rule); a feature without a row follows the
-- configured or built-in rule.
CREATE TABLE eligibility_rules (
    feature    TEXT PRIMARY KEY,
    rule       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- tip_settings: a creator's Tips switch (off until turned on).
CREATE TABLE tip_settings (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    enabled    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

-- tips: one row per tip, written by the tip's ledger operation.
CREATE TABLE tips (
    id         TEXT PRIMARY KEY,
    fan_id     TEXT NOT NULL REFERENCES users (id),
    creator_id TEXT NOT NULL REFERENCES users (id),
    coins      BIGINT NOT NULL CHECK (coins > 0),
    diamonds   BIGINT NOT NULL CHECK (diamonds >= 0),
    message    TEXT NOT NULL,
    live_id    TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX tips_creator ON tips (creator_id, created_at, id);
CREATE INDEX tips_fan ON tips (fan_id, created_at, id);

-- +goose Down
DROP TABLE tips;
DROP TABLE tip_settings;
DROP TABLE eligibility_rules;
