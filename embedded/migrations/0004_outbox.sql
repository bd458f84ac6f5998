-- M-4: the outbox. Mails (and anonymous recovery requests) queued in the same transaction as
-- the state they report, until the courier delivers them; a delivered entry is deleted, one
-- that kept failing stays with state 'failed'. `data` holds the entry as JSON, its content
-- sealed under the deployment key; `state` and `due_at` copy fields of it for the courier's
-- "what is due" read.
CREATE TABLE outbox (
    id      TEXT    NOT NULL PRIMARY KEY,
    state   TEXT    NOT NULL,
    due_at  INTEGER NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    data    TEXT    NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox (state, due_at);
