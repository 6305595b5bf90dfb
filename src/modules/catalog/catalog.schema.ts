/**
 * The catalog's wire format: every body, query and response, as TypeBox schemas. Bodies reject
 * unknown fields; the limits here are the catalog's limits (docs/modules/catalog.md lists them)
 * and the database repeats them as CHECK constraints.
 */
import { type Static, Type } from 'typebox';
import { UUID_PATTERN } from '../../shared/ids.ts';
import { NO_NUL, Text, Uuid } from '../../shared/schemas.ts';

export const LIMITS = {
  titleMax: 200,
  descriptionMax: 5000,
  priceMinorMax: 99_999_999,
  stockMax: 1_000_000,
  attributesMaxKeys: 30,
  attributeKeyMax: 64,
  attributeValueMax: 500,
  /** Serialised attributes (JSON.stringify, UTF-8 bytes). */
  attributesMaxBytes: 4096,
  queryMax: 200,
  pageDefault: 20,
  pageMax: 100,
} as const;

const SLUG_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';

export const ProductStatusSchema = Type.Union([Type.Literal('draft'), Type.Literal('published')], {
  description: 'draft: visible to its seller only; published: listed and searchable',
});

export const AttributesSchema = Type.Record(
  Type.String(),
  Type.Union([Text({ maxLength: LIMITS.attributeValueMax }), Type.Number(), Type.Boolean()]),
  {
    maxProperties: LIMITS.attributesMaxKeys,
    propertyNames: { minLength: 1, maxLength: LIMITS.attributeKeyMax, pattern: NO_NUL },
    description: `Flat key → string | number | boolean; at most ${LIMITS.attributesMaxKeys} keys and ${LIMITS.attributesMaxBytes} bytes as JSON`,
  },
);

const Title = Text({ minLength: 1, maxLength: LIMITS.titleMax });
const Description = Text({ maxLength: LIMITS.descriptionMax });
const PriceMinor = Type.Integer({
  minimum: 0,
  maximum: LIMITS.priceMinorMax,
  description: 'Price in the currency’s minor unit (cents for USD)',
});
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, e.g. USD' });
const Stock = Type.Integer({ minimum: 0, maximum: LIMITS.stockMax });

export const ProductCreateBody = Type.Object(
  {
    categoryId: Type.String({ pattern: UUID_PATTERN, description: 'Any existing category' }),
    title: Title,
    description: Type.Optional(Description),
    priceMinor: PriceMinor,
    currency: Type.Optional(Currency),
    stock: Type.Optional(Stock),
    attributes: Type.Optional(AttributesSchema),
    status: Type.Optional(ProductStatusSchema),
  },
  {
    additionalProperties: false,
    description: 'Defaults: description "", currency USD, stock 0, attributes {}, status draft',
  },
);
export type ProductCreate = Static<typeof ProductCreateBody>;

export const ProductUpdateBody = Type.Object(
  {
    categoryId: Type.Optional(Type.String({ pattern: UUID_PATTERN })),
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    priceMinor: Type.Optional(PriceMinor),
    currency: Type.Optional(Currency),
    stock: Type.Optional(Stock),
    attributes: Type.Optional(AttributesSchema),
    status: Type.Optional(ProductStatusSchema),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'The fields to change; attributes are replaced as a whole',
  },
);
export type ProductUpdate = Static<typeof ProductUpdateBody>;

export const ProductPhotoSchema = Type.Object(
  {
    id: Uuid,
    variants: Type.Array(
      Type.Object({
        width: Type.Integer(),
        height: Type.Integer(),
        format: Type.Union([Type.Literal('webp'), Type.Literal('jpeg')]),
        url: Type.String(),
      }),
      { description: 'By width, then format (webp first); at most 160, 480 and 1200 px wide' },
    ),
  },
  { description: 'A ready photo; URLs are on MEDIA_BASE_URL (a CDN in production)' },
);
export type ProductPhoto = Static<typeof ProductPhotoSchema>;

const productProperties = {
  id: Uuid,
  sellerId: Uuid,
  categoryId: Uuid,
  title: Type.String(),
  description: Type.String(),
  priceMinor: Type.Integer(),
  currency: Type.String(),
  stock: Type.Integer(),
  attributes: AttributesSchema,
  status: ProductStatusSchema,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
};

export const ProductSchema = Type.Object({
  ...productProperties,
  photos: Type.Array(ProductPhotoSchema, { description: 'Ready photos, in the seller’s order' }),
});
export type Product = Static<typeof ProductSchema>;

/** A product in a listing: its first ready photo instead of all of them. */
export const ProductListItemSchema = Type.Object({
  ...productProperties,
  photo: Type.Union([ProductPhotoSchema, Type.Null()], { description: 'The first ready photo, or null' }),
});
export type ProductListItem = Static<typeof ProductListItemSchema>;

export const ProductPageSchema = Type.Object({
  items: Type.Array(ProductListItemSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as `cursor` for the next page; null on the last page',
  }),
});
export type ProductPage = Static<typeof ProductPageSchema>;

const CategoryRef = { id: Uuid, slug: Type.String(), name: Type.String() };
export const CategoryTreeSchema = Type.Array(
  Type.Object({ ...CategoryRef, children: Type.Array(Type.Object(CategoryRef)) }),
);
export type CategoryTree = Static<typeof CategoryTreeSchema>;

export const SORTS = ['relevance', 'newest', 'price_asc', 'price_desc'] as const;
export type Sort = (typeof SORTS)[number];
const SortSchema = Type.Union(
  SORTS.map((s) => Type.Literal(s)),
  { description: 'relevance (only with q; the default then) | newest (default) | price_asc | price_desc' },
);

const Limit = Type.Integer({ minimum: 1, maximum: LIMITS.pageMax, default: LIMITS.pageDefault });
const Cursor = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque: the nextCursor of the previous page',
});

export const ProductListQuery = Type.Object(
  {
    category: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: `^(?:${UUID_PATTERN.slice(1, -1)}|${SLUG_PATTERN.slice(1, -1)})$`,
        description: 'A category id or slug; a top-level category includes its children',
      }),
    ),
    seller: Type.Optional(Uuid),
    q: Type.Optional(
      Text({
        maxLength: LIMITS.queryMax,
        description: 'Search words; the last one, from 3 characters, matches as a prefix',
      }),
    ),
    sort: Type.Optional(SortSchema),
    limit: Limit,
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type ProductListInput = Static<typeof ProductListQuery>;

export const SellerProductListQuery = Type.Object(
  {
    status: Type.Optional(ProductStatusSchema),
    limit: Limit,
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type SellerProductListInput = Static<typeof SellerProductListQuery>;
