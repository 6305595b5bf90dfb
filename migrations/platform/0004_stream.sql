-- Records of the SQL stream adapter (src/platform/stream/sql). `seq` orders records within the
-- database; readers only read records older than a settle delay, so a sequence value taken by a
-- transaction that commits late is never skipped.
create table platform.stream_records (
  seq bigint generated always as identity primary key,
  stream text not null,
  at timestamptz not null default now(),
  data jsonb not null
);
create index stream_records_stream_seq_idx on platform.stream_records (stream, seq);
create index stream_records_at_idx on platform.stream_records (stream, at);
