-- catalog: a two-level category tree (reference data, below) and sellers' products.
-- No foreign key leaves this schema: seller_id names a user of the users domain by id only.

create table catalog.categories (
  id uuid primary key,
  -- null for a top-level category; otherwise a top-level category (enforced by the key below)
  parent_id uuid,
  -- the top-level category this one belongs to: itself when it is top level
  top_id uuid not null generated always as (coalesce(parent_id, id)) stored,
  slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 64),
  name text not null check (char_length(name) between 1 and 100),
  position integer not null default 0,
  unique (id, top_id),
  -- A parent must be its own top (top_id = id), i.e. top level: the tree has two levels at most.
  constraint categories_parent_is_top_level foreign key (parent_id, parent_id)
    references catalog.categories (id, top_id)
);

create table catalog.products (
  id uuid primary key,
  seller_id uuid not null,
  category_id uuid not null,
  -- the top-level category of category_id, kept so that listing a top-level category (which
  -- includes its children's products) reads one index range; the key below keeps it correct
  top_category_id uuid not null,
  title text not null check (char_length(title) between 1 and 200),
  description text not null default '' check (char_length(description) <= 5000),
  price_minor integer not null check (price_minor between 0 and 99999999),
  currency text not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  stock integer not null default 0 check (stock between 0 and 1000000),
  attributes jsonb not null default '{}'::jsonb
    check (jsonb_typeof(attributes) = 'object' and octet_length(attributes::text) <= 8192),
  status text not null default 'draft' check (status in ('draft', 'published')),
  -- millisecond precision, as written by the service, so a pagination cursor holds a key exactly
  created_at timestamptz not null default date_trunc('milliseconds', now()),
  updated_at timestamptz not null default date_trunc('milliseconds', now()),
  search tsvector not null generated always as (
    setweight(to_tsvector('english'::regconfig, title), 'A') ||
    setweight(to_tsvector('english'::regconfig, description), 'B')
  ) stored,
  constraint products_category_fkey foreign key (category_id, top_category_id)
    references catalog.categories (id, top_id)
);

-- Public listings show published products only; each sort has its index, unfiltered, by
-- category (a child) and by top-level category (a parent and its children).
create index products_newest_idx on catalog.products (created_at desc, id desc)
  where status = 'published';
create index products_price_idx on catalog.products (price_minor, id)
  where status = 'published';
create index products_category_newest_idx on catalog.products (category_id, created_at desc, id desc)
  where status = 'published';
create index products_category_price_idx on catalog.products (category_id, price_minor, id)
  where status = 'published';
create index products_top_category_newest_idx
  on catalog.products (top_category_id, created_at desc, id desc) where status = 'published';
create index products_top_category_price_idx on catalog.products (top_category_id, price_minor, id)
  where status = 'published';
-- A seller's own products (drafts too) and the public `seller=` filter.
create index products_seller_newest_idx on catalog.products (seller_id, created_at desc, id desc);
create index products_search_idx on catalog.products using gin (search);

-- The default tree. Fixed ids and slugs: links, seeds and tests may name them.
insert into catalog.categories (id, parent_id, slug, name, position) values
  ('0190a8c0-0000-7000-8000-000000000100', null, 'home-kitchen', 'Home & Kitchen', 1),
  ('0190a8c0-0000-7000-8000-000000000200', null, 'fashion', 'Fashion', 2),
  ('0190a8c0-0000-7000-8000-000000000300', null, 'electronics', 'Electronics', 3),
  ('0190a8c0-0000-7000-8000-000000000400', null, 'books', 'Books', 4),
  ('0190a8c0-0000-7000-8000-000000000500', null, 'sports-outdoors', 'Sports & Outdoors', 5),
  ('0190a8c0-0000-7000-8000-000000000600', null, 'toys-games', 'Toys & Games', 6),
  ('0190a8c0-0000-7000-8000-000000000700', null, 'art-crafts', 'Art & Crafts', 7);

insert into catalog.categories (id, parent_id, slug, name, position) values
  ('0190a8c0-0000-7000-8000-000000000101', '0190a8c0-0000-7000-8000-000000000100', 'kitchen-dining', 'Kitchen & Dining', 1),
  ('0190a8c0-0000-7000-8000-000000000102', '0190a8c0-0000-7000-8000-000000000100', 'furniture', 'Furniture', 2),
  ('0190a8c0-0000-7000-8000-000000000103', '0190a8c0-0000-7000-8000-000000000100', 'home-decor', 'Home Decor', 3),
  ('0190a8c0-0000-7000-8000-000000000104', '0190a8c0-0000-7000-8000-000000000100', 'bedding-bath', 'Bedding & Bath', 4),
  ('0190a8c0-0000-7000-8000-000000000105', '0190a8c0-0000-7000-8000-000000000100', 'garden-patio', 'Garden & Patio', 5),
  ('0190a8c0-0000-7000-8000-000000000201', '0190a8c0-0000-7000-8000-000000000200', 'womens-clothing', 'Women''s Clothing', 1),
  ('0190a8c0-0000-7000-8000-000000000202', '0190a8c0-0000-7000-8000-000000000200', 'mens-clothing', 'Men''s Clothing', 2),
  ('0190a8c0-0000-7000-8000-000000000203', '0190a8c0-0000-7000-8000-000000000200', 'shoes', 'Shoes', 3),
  ('0190a8c0-0000-7000-8000-000000000204', '0190a8c0-0000-7000-8000-000000000200', 'jewelry-watches', 'Jewelry & Watches', 4),
  ('0190a8c0-0000-7000-8000-000000000205', '0190a8c0-0000-7000-8000-000000000200', 'bags-accessories', 'Bags & Accessories', 5),
  ('0190a8c0-0000-7000-8000-000000000301', '0190a8c0-0000-7000-8000-000000000300', 'phones-tablets', 'Phones & Tablets', 1),
  ('0190a8c0-0000-7000-8000-000000000302', '0190a8c0-0000-7000-8000-000000000300', 'computers', 'Computers', 2),
  ('0190a8c0-0000-7000-8000-000000000303', '0190a8c0-0000-7000-8000-000000000300', 'audio', 'Audio', 3),
  ('0190a8c0-0000-7000-8000-000000000304', '0190a8c0-0000-7000-8000-000000000300', 'cameras', 'Cameras', 4),
  ('0190a8c0-0000-7000-8000-000000000305', '0190a8c0-0000-7000-8000-000000000300', 'video-games', 'Video Games', 5),
  ('0190a8c0-0000-7000-8000-000000000401', '0190a8c0-0000-7000-8000-000000000400', 'fiction', 'Fiction', 1),
  ('0190a8c0-0000-7000-8000-000000000402', '0190a8c0-0000-7000-8000-000000000400', 'non-fiction', 'Non-fiction', 2),
  ('0190a8c0-0000-7000-8000-000000000403', '0190a8c0-0000-7000-8000-000000000400', 'childrens-books', 'Children''s Books', 3),
  ('0190a8c0-0000-7000-8000-000000000404', '0190a8c0-0000-7000-8000-000000000400', 'comics-graphic-novels', 'Comics & Graphic Novels', 4),
  ('0190a8c0-0000-7000-8000-000000000501', '0190a8c0-0000-7000-8000-000000000500', 'camping-hiking', 'Camping & Hiking', 1),
  ('0190a8c0-0000-7000-8000-000000000502', '0190a8c0-0000-7000-8000-000000000500', 'cycling', 'Cycling', 2),
  ('0190a8c0-0000-7000-8000-000000000503', '0190a8c0-0000-7000-8000-000000000500', 'fitness', 'Fitness', 3),
  ('0190a8c0-0000-7000-8000-000000000504', '0190a8c0-0000-7000-8000-000000000500', 'team-sports', 'Team Sports', 4),
  ('0190a8c0-0000-7000-8000-000000000601', '0190a8c0-0000-7000-8000-000000000600', 'board-games', 'Board Games', 1),
  ('0190a8c0-0000-7000-8000-000000000602', '0190a8c0-0000-7000-8000-000000000600', 'building-toys', 'Building Toys', 2),
  ('0190a8c0-0000-7000-8000-000000000603', '0190a8c0-0000-7000-8000-000000000600', 'dolls-figures', 'Dolls & Action Figures', 3),
  ('0190a8c0-0000-7000-8000-000000000604', '0190a8c0-0000-7000-8000-000000000600', 'puzzles', 'Puzzles', 4),
  ('0190a8c0-0000-7000-8000-000000000701', '0190a8c0-0000-7000-8000-000000000700', 'painting-drawing', 'Painting & Drawing', 1),
  ('0190a8c0-0000-7000-8000-000000000702', '0190a8c0-0000-7000-8000-000000000700', 'sewing-knitting', 'Sewing & Knitting', 2),
  ('0190a8c0-0000-7000-8000-000000000703', '0190a8c0-0000-7000-8000-000000000700', 'handmade-art', 'Handmade Art', 3),
  ('0190a8c0-0000-7000-8000-000000000704', '0190a8c0-0000-7000-8000-000000000700', 'craft-supplies', 'Craft Supplies', 4);
