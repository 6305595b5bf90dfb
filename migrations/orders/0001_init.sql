-- orders: checkout idempotency records, orders, their lines, the per-seller projection and the
-- outbox. Orders are sharded by buyer later: every key and index of a buyer-owned table leads
-- with buyer_id, and every query names it. No foreign key leaves this schema (buyer, seller and
-- product ids name other domains' rows by id only).

-- One row per (buyer, Idempotency-Key). The row is the checkout's lock: whoever inserts it (or
-- takes it over once `locked_until` has passed) runs the saga, fenced by `lease_token`.
-- `order_id` is chosen at the claim and is also the catalog reservation id, so every retry of
-- the key reuses both.
create table orders.idempotency_keys (
  buyer_id uuid not null,
  key text not null check (key ~ '^[A-Za-z0-9_-]{1,100}$'),
  request_hash text not null,
  order_id uuid not null,
  state text not null check (state in ('pending', 'compensating', 'completed')),
  lease_token uuid not null,
  locked_until timestamptz not null,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  primary key (buyer_id, key)
);

create table orders.orders (
  buyer_id uuid not null,
  id uuid not null,
  status text not null check (status in ('placed', 'shipped', 'delivered', 'cancelled')),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  total_minor bigint not null check (total_minor >= 0),
  item_count integer not null check (item_count > 0),
  placed_at timestamptz not null,
  -- set when the first seller ships their lines: from then on the buyer may not cancel
  first_shipped_at timestamptz,
  shipped_at timestamptz,
  delivered_at timestamptz,
  cancelled_at timestamptz,
  -- set once the catalog has put a cancelled order's stock back (a repeated cancel retries it)
  stock_released_at timestamptz,
  primary key (buyer_id, id)
);

create table orders.order_lines (
  buyer_id uuid not null,
  order_id uuid not null,
  product_id uuid not null,
  seller_id uuid not null,
  title text not null,
  price_minor integer not null check (price_minor >= 0),
  quantity integer not null check (quantity > 0),
  shipped_at timestamptz,
  primary key (buyer_id, order_id, product_id),
  foreign key (buyer_id, order_id) references orders.orders (buyer_id, id)
);

-- The seller's view, keyed by seller: orders are found by buyer, so a seller's list cannot be
-- read from the buyer-keyed tables without visiting every shard. Written in the same transaction
-- as the order today; once orders are sharded it becomes a projection fed by order events.
create table orders.seller_orders (
  seller_id uuid not null,
  order_id uuid not null,
  buyer_id uuid not null,
  status text not null check (status in ('placed', 'shipped', 'delivered', 'cancelled')),
  currency text not null,
  subtotal_minor bigint not null,
  lines jsonb not null,
  placed_at timestamptz not null,
  shipped_at timestamptz,
  primary key (seller_id, order_id)
);

create table orders.outbox (
  id uuid primary key,
  type text not null,
  key text,
  payload jsonb not null,
  occurred_at timestamptz not null default now(),
  published_at timestamptz
);
create index outbox_unpublished_idx on orders.outbox (id) where published_at is null;
