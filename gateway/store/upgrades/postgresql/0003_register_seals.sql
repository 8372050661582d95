-- Schema version 2 -> 3 on PostgreSQL: the working-time register's seals (docs/REGISTER.md).
-- `clock-gateway db upgrade` runs this file in one transaction, under the advisory lock
-- `db init` takes too, then sets the version to 3, and then seals the rows already
-- there (the chain starts at the upgrade: what happened to them before is not proven).
--
-- A new empty table, a function and eight triggers: no row is rewritten. The end state
-- must be exactly what schema.sql creates (tests/store/test_upgrade.py compares).

CREATE TABLE seals (
    seq bigint NOT NULL,
    kind text NOT NULL,
    row_id bigint NOT NULL,
    payload text NOT NULL,
    prev text NOT NULL,
    seal text NOT NULL,
    sealed_at timestamptz NOT NULL,
    CONSTRAINT seals_pkey PRIMARY KEY (seq),
    CONSTRAINT seals_kind_row_id_key UNIQUE (kind, row_id),
    CONSTRAINT seals_kind_valid CHECK (kind IN ('event', 'correction', 'audit', 'checkpoint')),
    CONSTRAINT seals_seq_positive CHECK (seq > 0)
);

CREATE INDEX seals_sealed_at ON seals (sealed_at);

-- The register is append-only: no UPDATE, no TRUNCATE, and no DELETE of a row younger
-- than 4 years (the shortest legal retention clock-gateway supports: Spain's), so only
-- the retention purge can delete, and only what the law no longer asks to keep. The
-- trigger's argument is the column the age is read from. The application's roles have
-- no UPDATE or DELETE on these tables either (gateway/store/grants.py); the owner can
-- drop a trigger, which is what the seals are for.
CREATE OR REPLACE FUNCTION clock_gateway_register_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF (to_jsonb(OLD) ->> TG_ARGV[0])::timestamptz < now() - interval '4 years' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the working-time register is append-only: % rows are kept 4 years',
            TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END IF;
    RAISE EXCEPTION 'the working-time register is append-only: % of % refused',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;

DO $$
DECLARE
    guarded text[][] := ARRAY[
        ARRAY['clock_events', 'received_at'],
        ARRAY['corrections', 'created_at'],
        ARRAY['audit_log', 'at'],
        ARRAY['seals', 'sealed_at']
    ];
    i integer;
BEGIN
    FOR i IN 1 .. array_length(guarded, 1) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = guarded[i][1] || '_append_only'
                       AND tgrelid = guarded[i][1]::regclass) THEN
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW '
                'EXECUTE FUNCTION clock_gateway_register_guard(%L)',
                guarded[i][1] || '_append_only', guarded[i][1], guarded[i][2]);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = guarded[i][1] || '_no_truncate'
                       AND tgrelid = guarded[i][1]::regclass) THEN
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                'EXECUTE FUNCTION clock_gateway_register_guard(%L)',
                guarded[i][1] || '_no_truncate', guarded[i][1], guarded[i][2]);
        END IF;
    END LOOP;
END
$$;
