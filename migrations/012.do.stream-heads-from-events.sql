-- A stream's head is its last event: read from the events' (stream, revision) index, no longer
-- kept in a `streams` table that every append had to update. The unique (stream, revision)
-- index is what refuses a second writer of the same revision (src/eventstore/postgres).
DROP FUNCTION lock_streams(text[]);
DROP TABLE streams;

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
    SELECT wanted.stream_name, head.revision, head.metadata->>'hash'
      FROM unnest(stream_names) AS wanted(stream_name)
     CROSS JOIN LATERAL (
       SELECT e.revision, e.metadata FROM events AS e
        WHERE e.stream = wanted.stream_name
        ORDER BY e.revision DESC
        LIMIT 1
     ) AS head;
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nova_app') THEN
    GRANT EXECUTE ON FUNCTION lock_streams(text[]) TO nova_app;
  END IF;
END
$$;
