-- The SQLite schema as clock-gateway 0.1.0 (schema version 1) created it: dumped from
-- sqlite_master of a database made by that release's `db init` (metadata.create_all,
-- then the version row). tests/store/test_upgrade.py builds version-1 SQLite databases
-- from it. Frozen: never edit it to follow the current schema.

CREATE TABLE schema_version (
	id SMALLINT DEFAULT 1 NOT NULL, 
	version INTEGER NOT NULL, 
	applied_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	CONSTRAINT schema_version_pkey PRIMARY KEY (id), 
	CONSTRAINT schema_version_single_row CHECK (id = 1)
);

CREATE TABLE people (
	uid TEXT NOT NULL, 
	name TEXT NOT NULL, 
	active BOOLEAN DEFAULT true NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	CONSTRAINT people_pkey PRIMARY KEY (uid), 
	CONSTRAINT people_uid_not_empty CHECK (uid <> ''), 
	CONSTRAINT people_name_not_empty CHECK (name <> '')
);

CREATE TABLE unknown_swipes (
	card_key TEXT NOT NULL, 
	first_seen DATETIME NOT NULL, 
	last_seen DATETIME NOT NULL, 
	count INTEGER NOT NULL, 
	last_reader TEXT NOT NULL, 
	last_reader_hw_id TEXT, 
	CONSTRAINT unknown_swipes_pkey PRIMARY KEY (card_key), 
	CONSTRAINT unknown_swipes_card_key_format CHECK (length(card_key) IN (8, 14, 20) AND card_key NOT GLOB '*[^0-9A-F]*'), 
	CONSTRAINT unknown_swipes_count_positive CHECK (count > 0)
);

CREATE TABLE cards (
	id INTEGER NOT NULL, 
	card_key TEXT NOT NULL, 
	person_uid TEXT NOT NULL, 
	assigned_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	revoked_at DATETIME, 
	CONSTRAINT cards_pkey PRIMARY KEY (id), 
	CONSTRAINT cards_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid), 
	CONSTRAINT cards_card_key_format CHECK (length(card_key) IN (8, 14, 20) AND card_key NOT GLOB '*[^0-9A-F]*'), 
	CONSTRAINT cards_revoked_after_assigned CHECK (revoked_at IS NULL OR revoked_at >= assigned_at)
);

CREATE UNIQUE INDEX cards_active_card_key ON cards (card_key) WHERE revoked_at IS NULL;

CREATE INDEX cards_person_uid ON cards (person_uid);

CREATE TABLE clock_events (
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
	CONSTRAINT clock_events_pkey PRIMARY KEY (id), 
	CONSTRAINT clock_events_event_key_key UNIQUE (event_key), 
	CONSTRAINT clock_events_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid), 
	CONSTRAINT clock_events_card_key_format CHECK (length(card_key) IN (8, 14, 20) AND card_key NOT GLOB '*[^0-9A-F]*'), 
	CONSTRAINT clock_events_direction_valid CHECK (direction IN ('in', 'out')), 
	CONSTRAINT clock_events_outcome_valid CHECK (outcome IN ('recorded', 'duplicate'))
);

CREATE INDEX clock_events_person_received ON clock_events (person_uid, received_at);

CREATE INDEX clock_events_received ON clock_events (received_at);

CREATE TABLE timetable (
	id INTEGER NOT NULL, 
	person_uid TEXT NOT NULL, 
	weekday SMALLINT NOT NULL, 
	start_time TIME NOT NULL, 
	end_time TIME NOT NULL, 
	room TEXT DEFAULT '' NOT NULL, 
	CONSTRAINT timetable_pkey PRIMARY KEY (id), 
	CONSTRAINT timetable_person_uid_fkey FOREIGN KEY(person_uid) REFERENCES people (uid), 
	CONSTRAINT timetable_weekday_iso CHECK (weekday BETWEEN 1 AND 7), 
	CONSTRAINT timetable_not_empty CHECK (start_time <> end_time)
);

CREATE INDEX timetable_weekday ON timetable (weekday);

INSERT INTO schema_version (id, version) VALUES (1, 1);
