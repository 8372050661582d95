-- Schema version 2 -> 3 on SQLite: the working-time register's seals (docs/REGISTER.md).
-- `clock-gateway db upgrade` runs this in one transaction (BEGIN IMMEDIATE), then sets
-- the version to 3, and then seals the rows already there (the chain starts at the
-- upgrade: what happened to them before is not proven).
--
-- A new empty table and the triggers that keep the register append-only, exactly as
-- gateway/store/tables.py creates them (sqlite_register_triggers): no row is rewritten.

CREATE TABLE seals (
	seq INTEGER NOT NULL,
	kind TEXT NOT NULL,
	row_id INTEGER NOT NULL,
	payload TEXT NOT NULL,
	prev TEXT NOT NULL,
	seal TEXT NOT NULL,
	sealed_at DATETIME NOT NULL,
	CONSTRAINT seals_pkey PRIMARY KEY (seq),
	CONSTRAINT seals_kind_row_id_key UNIQUE (kind, row_id),
	CONSTRAINT seals_kind_valid CHECK (kind IN ('event', 'correction', 'audit', 'checkpoint')),
	CONSTRAINT seals_seq_positive CHECK (seq > 0)
);

CREATE INDEX seals_sealed_at ON seals (sealed_at);

CREATE TRIGGER clock_events_no_update BEFORE UPDATE ON clock_events
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: clock_events rows are never updated'); END;

CREATE TRIGGER clock_events_no_delete BEFORE DELETE ON clock_events
WHEN OLD.received_at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: clock_events rows are kept 4 years'); END;

CREATE TRIGGER corrections_no_update BEFORE UPDATE ON corrections
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: corrections rows are never updated'); END;

CREATE TRIGGER corrections_no_delete BEFORE DELETE ON corrections
WHEN OLD.created_at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: corrections rows are kept 4 years'); END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: audit_log rows are never updated'); END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: audit_log rows are kept 4 years'); END;

CREATE TRIGGER seals_no_update BEFORE UPDATE ON seals
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: seals rows are never updated'); END;

CREATE TRIGGER seals_no_delete BEFORE DELETE ON seals
WHEN OLD.sealed_at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: seals rows are kept 4 years'); END;
