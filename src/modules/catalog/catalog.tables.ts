/** The catalog schema's tables as Kysely sees them (migrations/catalog/ is the source of truth). */
import type { ColumnType, GeneratedAlways } from 'kysely';

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
};

export type CatalogDb = {
  categories: CategoriesTable;
  products: ProductsTable;
};
