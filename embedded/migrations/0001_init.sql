-- monban SQLite schema, migration 1.
--
-- Every record table holds the key columns, the record's `version` (the authoritative one;
-- the copy inside `data` is overwritten by it on read) and the whole record as JSON text in
-- `data` (serde form of the monban-core model types). The store reads and writes only by key,
-- so JSON keeps the schema small and a new optional field in a record needs no migration.
-- No foreign keys between records: the Store contract has none (memory and DynamoDB have none
-- either); uniqueness claims (e-mail, certificate) are records written in the same transaction.

CREATE TABLE tenants (
    code    TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 1),
    data    TEXT    NOT NULL
) STRICT;

CREATE TABLE users (
    tenant  TEXT    NOT NULL,
    user_id TEXT    NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    data    TEXT    NOT NULL,
    PRIMARY KEY (tenant, user_id)
) STRICT;

-- One row per normalized e-mail address: its owners (E-1..E-5).
CREATE TABLE email_owners (
    address TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 1),
    data    TEXT    NOT NULL
) STRICT;

-- One row per certificate key: its owner (L-8, LC-4).
CREATE TABLE cert_owners (
    key     TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 1),
    data    TEXT    NOT NULL
) STRICT;

-- A-1: append-only. `id` orders the events and is the paging cursor; AUTOINCREMENT keeps ids
-- from being reused even if rows are ever pruned. The filter columns copy fields of `data`.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    tenant  TEXT,
    subject TEXT,
    kind    TEXT    NOT NULL,
    data    TEXT    NOT NULL
) STRICT;

-- Each index implicitly ends with the rowid (`id`), so a filtered read walks in id order.
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_tenant ON audit (tenant);
CREATE INDEX audit_subject ON audit (subject);
CREATE INDEX audit_kind ON audit (kind);
