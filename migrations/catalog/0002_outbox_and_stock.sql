-- catalog: the transactional outbox (product.published, product.updated) and stock reservations,
-- the catalog's side of the checkout saga (docs/modules/orders.md).

create table catalog.outbox (
  id uuid primary key,
  type text not null,
  key text,
  payload jsonb not null,
  occurred_at timestamptz not null default now(),
  published_at timestamptz
);
create index outbox_unpublished_idx on catalog.outbox (id) where published_at is null;

-- One row per reservation id (the orders domain uses the order id). `held`: the stock is taken
-- from products; `committed`: the order exists; `released`: the stock went back (or the id was
-- released before any hold, a tombstone that makes a late reserve with that id a no-op).
-- `lines` holds each line's product, quantity and the price snapshot returned to the caller.
create table catalog.stock_reservations (
  id uuid primary key,
  state text not null check (state in ('held', 'committed', 'released')),
  lines jsonb not null default '[]'::jsonb check (jsonb_typeof(lines) = 'array'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index stock_reservations_held_idx on catalog.stock_reservations (created_at) where state = 'held';
