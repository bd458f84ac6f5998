-- Values an application keeps beside its records: `monban serve` keeps the policy it runs
-- with, so the operator commands on the same file apply the same rules.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
