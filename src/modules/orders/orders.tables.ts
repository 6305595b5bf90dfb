/** The orders schema's tables as Kysely sees them (migrations/orders/ is the source of truth). */
import type { ColumnType } from 'kysely';
import type { OutboxTable } from '../../platform/events/outbox.ts';

export type OrderStatus = 'placed' | 'shipped' | 'delivered' | 'cancelled';
export type KeyState = 'pending' | 'compensating' | 'completed';

export type IdempotencyKeysTable = {
  buyer_id: string;
  key: string;
  request_hash: string;
  order_id: string;
  state: KeyState;
  lease_token: string;
  locked_until: Date;
  created_at: ColumnType<Date, Date, never>;
  completed_at: Date | null;
};

export type OrdersTable = {
  buyer_id: string;
  id: string;
  status: OrderStatus;
  currency: string;
  total_minor: number;
  item_count: number;
  placed_at: ColumnType<Date, Date, never>;
  first_shipped_at: Date | null;
  shipped_at: Date | null;
  delivered_at: Date | null;
  cancelled_at: Date | null;
  stock_released_at: Date | null;
};

export type OrderLinesTable = {
  buyer_id: string;
  order_id: string;
  product_id: string;
  seller_id: string;
  title: string;
  price_minor: number;
  quantity: number;
  shipped_at: Date | null;
};

/** A seller's lines of one order, as kept in the projection. */
export type SellerLineRow = { productId: string; title: string; priceMinor: number; quantity: number };

export type SellerOrdersTable = {
  seller_id: string;
  order_id: string;
  buyer_id: string;
  status: OrderStatus;
  currency: string;
  subtotal_minor: number;
  /** Written as a JSON text, read as an array. */
  lines: ColumnType<SellerLineRow[], string, string>;
  placed_at: ColumnType<Date, Date, never>;
  shipped_at: Date | null;
};

export type OrdersDb = OutboxTable & {
  idempotency_keys: IdempotencyKeysTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  seller_orders: SellerOrdersTable;
};
