-- catalog: the photo projection. `photos` is the catalog's copy of the media domain's ready
-- photos of a product ([{id, position, variants: [{width, height, format, key}]}], by position),
-- kept by the consumer `catalog.photo-projection` from photo.ready / photo.deleted, so product
-- detail and listings stay one query. Keys, not URLs: URLs are built at response time.
alter table catalog.products add column photos jsonb not null default '[]'::jsonb;
