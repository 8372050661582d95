-- Schema version 1 -> 2 on SQLite (see ../postgresql/0002 for what and why).
-- `clock-gateway db upgrade` runs this file in one BEGIN IMMEDIATE transaction with
-- foreign keys off, checks them with PRAGMA foreign_key_check before committing, then
-- sets the version to 2. The end state must be what metadata.create_all makes of
-- gateway/store/tables.py (tests/store/test_upgrade.py compares), so the statements
-- below are written the way SQLAlchemy writes them.

-- Nullable, or NOT NULL with a constant default: ADD COLUMN says exactly that.
ALTER TABLE people ADD COLUMN erased_at DATETIME;
ALTER TABLE unknown_swipes ADD COLUMN last_gateway_id TEXT DEFAULT 'default' NOT NULL;

-- clock_events gains a named table CHECK, which ADD COLUMN cannot add: the table is
-- rebuilt by SQLite's documented recipe (lang_altertable.html, "other kinds of table
-- schema changes"): create the new shape under another name, copy every row with its
-- id, drop the old table, rename the new one, recreate the indexes. No table refers
-- to clock_events in version 1, and the rename leaves people's references alone.
CREATE TABLE clock_events_new (
	id INTEGER NOT NULL,
	event_key CHAR(32) NOT NULL,
	person_uid TEXT NOT NULL,
	card_key TEXT NOT NULL,
	direction TEXT NOT NULL,
	reader TEXT NOT NULL,
	reader_hw_id TEXT,
	received_at DATETIME NOT NULL,
	stored_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	outcome TEXT DEFAULT 'recorded' NOT NULL,
	gateway_id TEXT DEFAULT 'default' NOT NULL,
	source TEXT DEFAULT 'reader' NOT NULL,
	source_id TEXT,
	CONSTRAINT clock_events_pkey PRIMARY KEY (id),
	CONSTRAINT clock_events_event_key_key UNIQUE (event_key),
	CONSTRAINT clock_events_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid),
	CONSTRAINT clock_events_card_key_format CHECK (length(card_key) IN (8, 14, 20) AND card_key NOT GLOB '*[^0-9A-F]*'),
	CONSTRAINT clock_events_direction_valid CHECK (direction IN ('in', 'out')),
	CONSTRAINT clock_events_outcome_valid CHECK (outcome IN ('recorded', 'duplicate')),
	CONSTRAINT clock_events_source_valid CHECK (source IN ('reader', 'import'))
);

INSERT INTO clock_events_new (
    id, event_key, person_uid, card_key, direction, reader, reader_hw_id,
    received_at, stored_at, outcome
)
SELECT
    id, event_key, person_uid, card_key, direction, reader, reader_hw_id,
    received_at, stored_at, outcome
FROM clock_events;

DROP TABLE clock_events;
ALTER TABLE clock_events_new RENAME TO clock_events;

CREATE INDEX clock_events_person_received ON clock_events (person_uid, received_at);
CREATE INDEX clock_events_received ON clock_events (received_at);
CREATE INDEX clock_events_gateway_received ON clock_events (gateway_id, received_at);
CREATE UNIQUE INDEX clock_events_source_id ON clock_events (source, source_id) WHERE source_id IS NOT NULL;

CREATE TABLE gateways (
	id TEXT NOT NULL,
	version TEXT NOT NULL,
	hostname TEXT NOT NULL,
	started_at DATETIME NOT NULL,
	heartbeat_at DATETIME NOT NULL,
	spool_depth INTEGER DEFAULT 0 NOT NULL,
	last_write_at DATETIME,
	readers TEXT DEFAULT '[]' NOT NULL,
	CONSTRAINT gateways_pkey PRIMARY KEY (id)
);

CREATE TABLE admins (
	username TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT admins_pkey PRIMARY KEY (username),
	CONSTRAINT admins_username_not_empty CHECK (username <> '')
);

CREATE TABLE audit_log (
	id INTEGER NOT NULL,
	at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	actor TEXT NOT NULL,
	address TEXT,
	action TEXT NOT NULL,
	target TEXT,
	details TEXT DEFAULT '{}' NOT NULL,
	CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);

CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE corrections (
	id INTEGER NOT NULL,
	person_uid TEXT NOT NULL,
	kind TEXT NOT NULL,
	direction TEXT,
	at DATETIME,
	event_id INTEGER,
	reason TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT corrections_pkey PRIMARY KEY (id),
	CONSTRAINT corrections_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid),
	CONSTRAINT corrections_event_id_fkey FOREIGN KEY(event_id) REFERENCES clock_events (id),
	CONSTRAINT corrections_kind_valid CHECK (kind IN ('add', 'void')),
	CONSTRAINT corrections_direction_valid CHECK (direction IN ('in', 'out')),
	CONSTRAINT corrections_reason_not_empty CHECK (reason <> ''),
	CONSTRAINT corrections_shape CHECK ((kind = 'add' AND direction IS NOT NULL AND at IS NOT NULL AND event_id IS NULL) OR (kind = 'void' AND event_id IS NOT NULL AND at IS NULL))
);

CREATE INDEX corrections_person_at ON corrections (person_uid, at);

CREATE TABLE clock_steps (
	id INTEGER NOT NULL,
	gateway_id TEXT NOT NULL,
	detected_at DATETIME NOT NULL,
	step_s DOUBLE NOT NULL,
	CONSTRAINT clock_steps_pkey PRIMARY KEY (id)
);

CREATE INDEX clock_steps_detected_at ON clock_steps (detected_at);
