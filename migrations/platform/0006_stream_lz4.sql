-- Clickstream batches (up to 500 records, ~90 KB of NDJSON each) are compressed by TOAST as they
-- are written, on the primary. lz4 does that several times faster than the default pglz (about
-- 0.15 ms instead of 0.6–0.9 ms per batch here, and smaller), so where the server has it (PostgreSQL
-- built with lz4, as Debian's and RDS's are) new batches use it; PGlite has only pglz and keeps it.
-- Rows already written keep their compression: both stay readable.
do $$
begin
  if exists (
    select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any (enumvals)
  ) then
    alter table platform.stream_batches alter column records set compression lz4;
  end if;
end
$$;
