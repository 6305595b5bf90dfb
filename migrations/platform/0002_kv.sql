-- Tables of the SQL kv adapter (src/platform/kv/sql). Keys and sorted sets are separate
-- namespaces. Names compare bytewise (collate "C"), as Redis and DynamoDB compare them.
create table platform.kv (
  key text collate "C" primary key,
  value jsonb not null,
  version bigint not null check (version > 0),
  expires_at timestamptz
);
create index kv_expires_at_idx on platform.kv (expires_at) where expires_at is not null;

create table platform.kv_zset (
  set_name text collate "C" not null,
  member text collate "C" not null,
  score double precision not null,
  primary key (set_name, member)
);
create index kv_zset_rank_idx on platform.kv_zset (set_name, score desc, member);
