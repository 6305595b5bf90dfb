/** The catalog schema's tables as Kysely sees them (migrations/catalog/ is the source of truth). */
import type { ColumnType, GeneratedAlways } from 'kysely';
import type { OutboxTable } from '../../platform/events/outbox.ts';

export type ProductStatus = 'draft' | 'published';

/** Attribute values a seller may set: flat, small, JSON scalars only. */
export type ProductAttributes = Record<string, string | number | boolean>;

export type CategoriesTable = {
  id: string;
  parent_id: string | null;
  top_id: GeneratedAlways<string>;
  slug: string;
  name: string;
  position: number;
};

export type ProductsTable = {
  id: string;
  seller_id: string;
  category_id: string;
  top_category_id: string;
  title: string;
  description: string;
  price_minor: number;
  currency: string;
  stock: number;
  /** Written as a JSON text (both drivers pass it through to jsonb unchanged), read as an object. */
  attributes: ColumnType<ProductAttributes, string, string>;
  status: ProductStatus;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
  search: GeneratedAlways<string>;
  /** The photo projection (catalog.photos.ts); written as a JSON text, read as an array. */
  photos: ColumnType<StoredPhoto[], string | undefined, string>;
};

/** A ready photo as the catalog keeps it: object keys, not URLs. */
export type StoredPhoto = {
  id: string;
  position: number;
  variants: { width: number; height: number; format: 'webp' | 'jpeg'; key: string }[];
};

export type ReservationState = 'held' | 'committed' | 'released';

/** A reserved line with the price snapshot taken when the stock was held. */
export type ReservedLineRow = {
  productId: string;
  quantity: number;
  sellerId: string;
  title: string;
  priceMinor: number;
  currency: string;
};

export type StockReservationsTable = {
  id: string;
  state: ReservationState;
  /** Written as a JSON text, read as an array. */
  lines: ColumnType<ReservedLineRow[], string, string>;
  /** Whom the stock is held for (orders: the buyer id); null when the caller named no one. */
  holder_id: ColumnType<string | null, string | null | undefined, never>;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
};

export type CatalogDb = OutboxTable & {
  categories: CategoriesTable;
  products: ProductsTable;
  stock_reservations: StockReservationsTable;
};
