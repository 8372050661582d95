-- Schema version 3 -> 4 on PostgreSQL: the web's accounts get a role and an expiry,
-- and the web keeps its sessions and its login throttle in the database.
-- `clock-gateway db upgrade` runs this file in one transaction, under the advisory lock
-- `db init` takes too, then sets the version to 4. The end state must be exactly what
-- schema.sql creates (tests/store/test_upgrade.py compares).
--
-- admins becomes accounts, since not every account is an admin any more. Every
-- existing account was an admin, so it becomes one: the column is added with that
-- default (no row is rewritten on PostgreSQL 11 and newer) and the default dropped at
-- once, so that a new account always names its role. The sessions signed before
-- version 4 carry no server-side id: they end with this upgrade (sign in again).

ALTER TABLE admins RENAME TO accounts;
ALTER TABLE accounts RENAME CONSTRAINT admins_pkey TO accounts_pkey;
ALTER TABLE accounts RENAME CONSTRAINT admins_username_not_empty TO accounts_username_not_empty;
ALTER TABLE accounts
    ADD COLUMN role text NOT NULL DEFAULT 'admin',
    ADD COLUMN expires_at timestamptz,
    ADD CONSTRAINT accounts_role_valid
        CHECK (role IN ('admin', 'hr', 'inspector', 'representative'));
ALTER TABLE accounts ALTER COLUMN role DROP DEFAULT;

CREATE TABLE web_sessions (
    id_hash text NOT NULL,
    username text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    address text,
    CONSTRAINT web_sessions_pkey PRIMARY KEY (id_hash),
    CONSTRAINT web_sessions_username_fkey FOREIGN KEY (username)
        REFERENCES accounts (username) ON DELETE CASCADE
);

CREATE INDEX web_sessions_username ON web_sessions (username);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);

CREATE TABLE login_throttle (
    subject text NOT NULL,
    attempts integer NOT NULL,
    wait_until timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    CONSTRAINT login_throttle_pkey PRIMARY KEY (subject)
);

CREATE INDEX login_throttle_last_at ON login_throttle (last_at);
