-- The SQL stream adapter stores each append as ONE row: its records as newline-delimited JSON
-- (src/platform/stream/sql/sql-stream.ts). One row per record cost the database a heap tuple,
-- two index entries and a jsonb parse per product view; one row per batch of up to 500 costs one
-- of each per batch. Positions become `<seq>:<index>`.
create table platform.stream_batches (
  seq bigint generated always as identity primary key,
  stream text not null,
  at timestamptz not null default now(),
  count integer not null check (count between 1 and 500),
  records text not null
);
create index stream_batches_stream_seq_idx on platform.stream_batches (stream, seq);
create index stream_batches_stream_at_idx on platform.stream_batches (stream, at);

-- Records not yet trimmed move over as batches of one under their old sequence number, so that
-- a consumer's stored position `<seq>` (the old format, read as `<seq>:0`) still means the same.
insert into platform.stream_batches (seq, stream, at, count, records)
  overriding system value
  select seq, stream, at, 1, data::text from platform.stream_records order by seq;
select setval(
  pg_get_serial_sequence('platform.stream_batches', 'seq'),
  greatest((select max(seq) from platform.stream_batches), 1)
);
drop table platform.stream_records;
