-- Master key versions (`scaivault keys rotate`): each a random 256-bit key wrapped by the
-- operator's root master key. The highest version wraps new data keys; all stay for unwrapping.
CREATE TABLE master_key_versions (
    version     INTEGER PRIMARY KEY,
    key_id      TEXT NOT NULL UNIQUE,
    wrapped_key BLOB NOT NULL,
    root_key_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
