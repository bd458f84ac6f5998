-- AB-6: the abuse limits' counters (failed logins and recovery requests per client address,
-- recovery mails per account, address blocks). A row whose window ended (`expires_at <= now`)
-- counts as absent; expired rows are purged a few at a time by later bumps.
CREATE TABLE counters (
    key        TEXT PRIMARY KEY NOT NULL,
    count      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX counters_expiry ON counters (expires_at);
