-- Schema version 5 -> 6 on PostgreSQL: an index for a person's audit trail (issue 25).
-- `clock-gateway db upgrade` runs this file in one transaction, under the advisory lock
-- `db init` takes too, then sets the version to 6. The end state must be exactly what
-- schema.sql creates (tests/store/test_upgrade.py compares).
--
-- A person's page reads the audit rows about them (target = their uid), newest first by
-- id, a page at a time: without an index that is a scan of the whole log from its
-- newest row back to the person's, which on a school's years of log is most of it.
-- (target, id) answers the filter and the order together. Built in the step's
-- transaction (not CONCURRENTLY, which cannot run in one): writes to audit_log wait for
-- the build, seconds on a large log; the upgrade runs with the web app stopped anyway.

CREATE INDEX audit_log_target ON audit_log (target, id);
