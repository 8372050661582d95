-- Schema version 4 -> 5 on SQLite (see ../postgresql/0005 for what and why).
-- `clock-gateway db upgrade` runs this file in one BEGIN IMMEDIATE transaction with
-- foreign keys off, checks them with PRAGMA foreign_key_check before committing, then
-- sets the version to 5. The end state must be what metadata.create_all makes of
-- gateway/store/tables.py (tests/store/test_upgrade.py compares), so the statements
-- below are written the way SQLAlchemy writes them.

-- accounts gains the 'worker' role (a changed CHECK), a person and a new CHECK, which
-- ALTER TABLE cannot do on SQLite: the table is rebuilt by SQLite's documented recipe
-- (lang_altertable.html, as in 0002 and 0004). web_sessions refers to accounts by name,
-- so its rows and its reference stay as they are.
CREATE TABLE accounts_new (
	username TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	role TEXT NOT NULL,
	expires_at DATETIME,
	person_uid TEXT,
	must_change_password BOOLEAN DEFAULT false NOT NULL,
	CONSTRAINT accounts_pkey PRIMARY KEY (username),
	CONSTRAINT accounts_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid),
	CONSTRAINT accounts_username_not_empty CHECK (username <> ''),
	CONSTRAINT accounts_role_valid CHECK (role IN ('admin', 'hr', 'inspector', 'representative', 'worker')),
	CONSTRAINT accounts_worker_person CHECK ((role = 'worker') = (person_uid IS NOT NULL))
);

INSERT INTO accounts_new (username, password_hash, created_at, role, expires_at)
SELECT username, password_hash, created_at, role, expires_at FROM accounts;

DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;

-- seals' kind CHECK gains the three new sealed kinds: rebuilt the same way. Dropping
-- the table drops its two guards (DROP TABLE fires no trigger), recreated below exactly
-- as tables.py's sqlite_register_triggers writes them. Every seal is copied as it is.
CREATE TABLE seals_new (
	seq INTEGER NOT NULL,
	kind TEXT NOT NULL,
	row_id INTEGER NOT NULL,
	payload TEXT NOT NULL,
	prev TEXT NOT NULL,
	seal TEXT NOT NULL,
	sealed_at DATETIME NOT NULL,
	CONSTRAINT seals_pkey PRIMARY KEY (seq),
	CONSTRAINT seals_kind_row_id_key UNIQUE (kind, row_id),
	CONSTRAINT seals_kind_valid CHECK (kind IN ('event', 'correction', 'step', 'regime', 'overtime', 'audit', 'checkpoint')),
	CONSTRAINT seals_seq_positive CHECK (seq > 0)
);

INSERT INTO seals_new (seq, kind, row_id, payload, prev, seal, sealed_at)
SELECT seq, kind, row_id, payload, prev, seal, sealed_at FROM seals;

DROP TABLE seals;
ALTER TABLE seals_new RENAME TO seals;

CREATE INDEX seals_sealed_at ON seals (sealed_at);

CREATE TRIGGER seals_no_update BEFORE UPDATE ON seals
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: seals rows are never updated'); END;

CREATE TRIGGER seals_no_delete BEFORE DELETE ON seals
WHEN OLD.sealed_at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: seals rows are kept 4 years'); END;

CREATE TABLE work_regimes (
	id INTEGER NOT NULL,
	person_uid TEXT NOT NULL,
	valid_from DATE NOT NULL,
	kind TEXT NOT NULL,
	weekly_minutes INTEGER NOT NULL,
	part_time_percent INTEGER,
	place TEXT NOT NULL,
	overtime_default TEXT DEFAULT 'paid' NOT NULL,
	created_by TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT work_regimes_pkey PRIMARY KEY (id),
	CONSTRAINT work_regimes_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid),
	CONSTRAINT work_regimes_kind_valid CHECK (kind IN ('full_time', 'part_time')),
	CONSTRAINT work_regimes_weekly_minutes_positive CHECK (weekly_minutes > 0),
	CONSTRAINT work_regimes_part_time_percent_range CHECK (part_time_percent BETWEEN 1 AND 99),
	CONSTRAINT work_regimes_percent_for_part_time CHECK ((kind = 'part_time') = (part_time_percent IS NOT NULL)),
	CONSTRAINT work_regimes_place_valid CHECK (place IN ('on_site', 'remote', 'mixed')),
	CONSTRAINT work_regimes_overtime_default_valid CHECK (overtime_default IN ('paid', 'rest'))
);

CREATE INDEX work_regimes_person_valid_from ON work_regimes (person_uid, valid_from);

CREATE TABLE overtime_choices (
	id INTEGER NOT NULL,
	person_uid TEXT NOT NULL,
	month TEXT NOT NULL,
	choice TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT overtime_choices_pkey PRIMARY KEY (id),
	CONSTRAINT overtime_choices_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid),
	CONSTRAINT overtime_choices_month_format CHECK (length(month) = 7 AND month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]' AND substr(month, 6, 2) BETWEEN '01' AND '12'),
	CONSTRAINT overtime_choices_choice_valid CHECK (choice IN ('paid', 'rest'))
);

CREATE INDEX overtime_choices_person_month ON overtime_choices (person_uid, month);

CREATE TABLE correction_steps (
	id INTEGER NOT NULL,
	correction_id INTEGER NOT NULL,
	step TEXT NOT NULL,
	side TEXT NOT NULL,
	actor TEXT NOT NULL,
	note TEXT DEFAULT '' NOT NULL,
	at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT correction_steps_pkey PRIMARY KEY (id),
	CONSTRAINT correction_steps_correction_id_fkey FOREIGN KEY(correction_id) REFERENCES corrections (id),
	CONSTRAINT correction_steps_step_valid CHECK (step IN ('proposed', 'accepted', 'rejected', 'withdrawn')),
	CONSTRAINT correction_steps_side_valid CHECK (side IN ('company', 'worker'))
);

CREATE INDEX correction_steps_correction_id ON correction_steps (correction_id);

CREATE TABLE open_day_notices (
	person_uid TEXT NOT NULL,
	day DATE NOT NULL,
	flagged_at DATETIME NOT NULL,
	mailed_at DATETIME,
	correction_id INTEGER,
	CONSTRAINT open_day_notices_pkey PRIMARY KEY (person_uid, day),
	CONSTRAINT open_day_notices_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid),
	CONSTRAINT open_day_notices_correction_id_fkey FOREIGN KEY(correction_id) REFERENCES corrections (id)
);

CREATE TRIGGER work_regimes_no_update BEFORE UPDATE ON work_regimes
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: work_regimes rows are never updated'); END;

CREATE TRIGGER work_regimes_no_delete BEFORE DELETE ON work_regimes
WHEN OLD.created_at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: work_regimes rows are kept 4 years'); END;

CREATE TRIGGER overtime_choices_no_update BEFORE UPDATE ON overtime_choices
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: overtime_choices rows are never updated'); END;

CREATE TRIGGER overtime_choices_no_delete BEFORE DELETE ON overtime_choices
WHEN OLD.created_at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: overtime_choices rows are kept 4 years'); END;

CREATE TRIGGER correction_steps_no_update BEFORE UPDATE ON correction_steps
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: correction_steps rows are never updated'); END;

CREATE TRIGGER correction_steps_no_delete BEFORE DELETE ON correction_steps
WHEN OLD.at >= datetime('now', '-4 years')
BEGIN SELECT RAISE(ABORT, 'the working-time register is append-only: correction_steps rows are kept 4 years'); END;
