-- Deliveries this domain's consumers have processed (src/platform/events/handle-once.ts), kept
-- beside the domain's own tables: the record commits with the consumer's writes in the domain's
-- own database, wherever that database lives once domains are federated.
create table catalog.processed_events (
  consumer text not null,
  event_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, event_id)
);
create index processed_events_processed_at_idx on catalog.processed_events (processed_at);

-- Records kept until now in platform.processed_events, carried over while both schemas share a
-- database (absent on a database of its own: nothing to carry).
do $$
begin
  if to_regclass('platform.processed_events') is not null then
    insert into catalog.processed_events (consumer, event_id, processed_at)
      select consumer, event_id, processed_at from platform.processed_events
      where consumer like 'catalog.%'
      on conflict do nothing;
  end if;
end
$$;
