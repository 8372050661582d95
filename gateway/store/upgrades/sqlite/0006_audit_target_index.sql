-- Schema version 5 -> 6 on SQLite (see ../postgresql/0006 for what and why).
-- `clock-gateway db upgrade` runs this file in one BEGIN IMMEDIATE transaction, then
-- sets the version to 6. The end state must be what metadata.create_all makes of
-- gateway/store/tables.py (tests/store/test_upgrade.py compares), so the statement
-- below is written the way SQLAlchemy writes it.

CREATE INDEX audit_log_target ON audit_log (target, id);
