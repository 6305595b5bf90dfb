-- media: product photos (one row per upload: its original and, once processed, its variants)
-- and the domain's outbox (photo.uploaded, photo.ready, photo.failed, photo.deleted).
-- product_id and seller_id are plain UUIDs: the catalog owns products (no foreign key).

create table media.photos (
  id uuid primary key,
  product_id uuid not null,
  seller_id uuid not null,
  position integer not null,
  status text not null check (status in ('awaiting_upload', 'processing', 'ready', 'failed')),
  original_key text not null,
  content_type text not null,
  declared_size integer not null check (declared_size > 0),
  failure_reason text,
  variants jsonb not null default '[]'::jsonb check (jsonb_typeof(variants) = 'array'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index photos_product_idx on media.photos (product_id, position);

create table media.outbox (
  id uuid primary key,
  type text not null,
  key text,
  payload jsonb not null,
  occurred_at timestamptz not null default now(),
  published_at timestamptz
);
create index outbox_unpublished_idx on media.outbox (id) where published_at is null;
