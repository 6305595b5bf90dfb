-- analytics: daily roll-ups of the clickstream (src/modules/analytics/analytics.rollup.ts).
create table analytics.rollup_state (
  stream text primary key,
  position text not null,
  updated_at timestamptz not null default now()
);

create table analytics.search_daily (
  day date not null,
  query text not null,
  searches integer not null,
  primary key (day, query)
);
create index search_daily_day_searches_idx on analytics.search_daily (day, searches desc);

-- One row per (day, category, visitor): distinct visitors are a count, exact, not a sketch.
create table analytics.category_visitors (
  day date not null,
  category_id uuid not null,
  visitor text not null,
  primary key (day, category_id, visitor)
);

create table analytics.product_views_daily (
  day date not null,
  product_id uuid not null,
  seller_id uuid not null,
  views integer not null,
  primary key (day, product_id)
);
create index product_views_daily_seller_idx on analytics.product_views_daily (seller_id, day);
