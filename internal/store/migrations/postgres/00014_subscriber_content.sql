-- +goose Up
-- emotes: a creator's exclusive emotes, which their active subscribers use
-- in the LIVE chat (":name:"). The image is in the blob store at
-- image_key; an emote never changes (a new image is a new emote, with a
-- new id and URL), so its image is served as immutable. Times in Unix
-- microseconds.
CREATE TABLE emotes (
    id           TEXT PRIMARY KEY,
    creator_id   TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    image_key    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size > 0),
    created_at   BIGINT NOT NULL,
    UNIQUE (creator_id, name)
);

-- posts: a creator's subscriber-only posts. Everyone sees the teaser, the
-- kind of media and the date; the creator, the operator and the creator's
-- active subscribers see the text and the media (in the blob store at
-- media_key).
CREATE TABLE posts (
    id           TEXT PRIMARY KEY,
    creator_id   TEXT NOT NULL REFERENCES users (id),
    text         TEXT NOT NULL,
    teaser       TEXT NOT NULL,
    media_kind   TEXT NOT NULL CHECK (media_kind IN ('', 'image', 'video')),
    media_key    TEXT,
    media_type   TEXT,
    media_size   BIGINT,
    created_at   BIGINT NOT NULL
);
-- A creator's feed, newest first.
CREATE INDEX posts_creator ON posts (creator_id, created_at, id);

-- +goose Down
DROP TABLE posts;
DROP TABLE emotes;
