-- Events and jobs (src/platform/events). pg-boss keeps its own tables in the `pgboss` schema,
-- which it creates and migrates itself when the jobs port starts.

-- Which consumer receives which event type: written by each worker when it subscribes its
-- consumers, read by every outbox relay to fan an event out to one job per consumer.
create table platform.event_subscriptions (
  type text not null,
  consumer text not null,
  created_at timestamptz not null default now(),
  primary key (type, consumer)
);
create index event_subscriptions_consumer_idx on platform.event_subscriptions (consumer);

-- Deliveries a consumer has processed (handle-once.ts): recorded in the same transaction as the
-- consumer's own writes, so a redelivered event has its effect once.
create table platform.processed_events (
  consumer text not null,
  event_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, event_id)
);
create index processed_events_processed_at_idx on platform.processed_events (processed_at);
