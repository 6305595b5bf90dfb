-- Sessions of the SQL sessions adapter (src/platform/sessions/sql). The id is stored hashed.
create table platform.sessions (
  id_hash text primary key,
  user_id uuid,
  data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  idle_expires_at timestamptz not null,
  expires_at timestamptz not null
);
create index sessions_user_id_idx on platform.sessions (user_id) where user_id is not null;
create index sessions_expires_at_idx on platform.sessions (expires_at);
