-- +goose Up
-- The chat of the LIVEs on air, as the room showed it (chat: the room's
-- chat object, JSON): a room that starts again on a server that did not
-- follow it (after a restart, or on another node) shows a late joiner the
-- last messages with the last gifts and tips. The janitor deletes the chat
-- of LIVEs that ended.
CREATE TABLE live_chat (
    id        TEXT PRIMARY KEY,
    live_id   TEXT NOT NULL,
    author_id TEXT NOT NULL,
    at        BIGINT NOT NULL,
    chat      TEXT NOT NULL
);
CREATE INDEX live_chat_recent ON live_chat (live_id, id);

-- +goose Down
DROP TABLE live_chat;
