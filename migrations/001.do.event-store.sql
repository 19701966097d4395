-- The Postgres event store: the streams' heads and the append-only global log.
--
-- Global order is the pair (transaction_id, position), not position alone: positions are
-- drawn from a sequence before commit, so a transaction that commits late can leave a lower
-- position behind a higher one that readers already saw. Readers therefore only read rows whose
-- transaction_id is below the oldest transaction still running (pg_snapshot_xmin), where no
-- late commit can land any more, and order and checkpoint by the pair.

CREATE TABLE streams (
  name      text   PRIMARY KEY,
  -- revision of the stream's last event (0-based); a stream exists once it has an event
  revision  bigint NOT NULL CHECK (revision >= 0),
  -- hash of the stream's last event: the prevHash of the next one
  last_hash text   NOT NULL
);

CREATE TABLE events (
  transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
  position       bigint      GENERATED ALWAYS AS IDENTITY,
  id             uuid        NOT NULL,
  stream         text        NOT NULL,
  revision       bigint      NOT NULL CHECK (revision >= 0),
  type           text        NOT NULL,
  data           jsonb       NOT NULL,
  metadata       jsonb       NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_id, position),
  UNIQUE (stream, revision)
);

-- An event is never changed: refused here for every role, whatever its grants.
CREATE FUNCTION refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only: % on events is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only
  BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION refuse_event_change();

CREATE TRIGGER events_no_truncate
  BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_event_change();

-- Takes the append's stream locks in one sorted order (so appends never deadlock), before the
-- transaction's first write (so its xid is drawn only once it holds them, and a stream's
-- revisions reach readers in order), then returns the heads of the streams that exist.
CREATE FUNCTION lock_streams(stream_names text[])
RETURNS TABLE (name text, revision bigint, last_hash text)
LANGUAGE plpgsql AS $$
DECLARE
  lock_key integer;
BEGIN
  FOR lock_key IN
    SELECT DISTINCT hashtext(stream_name) FROM unnest(stream_names) AS stream_name ORDER BY 1
  LOOP
    -- 1313821249 ('NOVA') keeps these keys apart from every other advisory lock.
    PERFORM pg_advisory_xact_lock(1313821249, lock_key);
  END LOOP;
  RETURN QUERY
    SELECT s.name, s.revision, s.last_hash FROM streams AS s WHERE s.name = ANY (stream_names);
END
$$;
