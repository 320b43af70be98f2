-- Master key versions (`scaivault keys rotate`): each a random 256-bit key wrapped by the
-- operator's root master key. The highest version wraps new data keys; all stay for unwrapping.
CREATE TABLE master_key_versions (
    version     BIGINT PRIMARY KEY,
    key_id      TEXT NOT NULL UNIQUE,
    wrapped_key BYTEA NOT NULL,
    root_key_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
