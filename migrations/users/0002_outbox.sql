-- The users domain's transactional outbox (src/platform/events/outbox.ts): `user.registered` is
-- written here in the sign-up transaction and published by the outbox relay.
create table users.outbox (
  id uuid primary key,
  type text not null,
  key text,
  payload jsonb not null,
  occurred_at timestamptz not null default now(),
  published_at timestamptz
);
create index outbox_unpublished_idx on users.outbox (id) where published_at is null;
