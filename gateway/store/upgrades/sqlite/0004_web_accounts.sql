-- Schema version 3 -> 4 on SQLite (see ../postgresql/0004 for what and why).
-- `clock-gateway db upgrade` runs this file in one BEGIN IMMEDIATE transaction with
-- foreign keys off, checks them with PRAGMA foreign_key_check before committing, then
-- sets the version to 4. The end state must be what metadata.create_all makes of
-- gateway/store/tables.py (tests/store/test_upgrade.py compares), so the statements
-- below are written the way SQLAlchemy writes them.

-- admins becomes accounts with a role CHECK and renamed constraints, which ALTER TABLE
-- cannot do on SQLite: the table is rebuilt (SQLite's documented recipe, as in 0002).
-- Every existing account was an admin, and becomes one.
CREATE TABLE accounts (
	username TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	role TEXT NOT NULL,
	expires_at DATETIME,
	CONSTRAINT accounts_pkey PRIMARY KEY (username),
	CONSTRAINT accounts_username_not_empty CHECK (username <> ''),
	CONSTRAINT accounts_role_valid CHECK (role IN ('admin', 'hr', 'inspector', 'representative'))
);

INSERT INTO accounts (username, password_hash, created_at, role)
SELECT username, password_hash, created_at, 'admin' FROM admins;

DROP TABLE admins;

CREATE TABLE web_sessions (
	id_hash TEXT NOT NULL,
	username TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	last_seen_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	address TEXT,
	CONSTRAINT web_sessions_pkey PRIMARY KEY (id_hash),
	CONSTRAINT web_sessions_username_fkey FOREIGN KEY(username) REFERENCES accounts (username) ON DELETE CASCADE
);

CREATE INDEX web_sessions_username ON web_sessions (username);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);

CREATE TABLE login_throttle (
	subject TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	wait_until DATETIME NOT NULL,
	last_at DATETIME NOT NULL,
	CONSTRAINT login_throttle_pkey PRIMARY KEY (subject)
);

CREATE INDEX login_throttle_last_at ON login_throttle (last_at);
