/** The orders module's wire format as TypeBox schemas; limits live here and in the docs. */
import { type Static, Type } from 'typebox';
import { UUID_PATTERN } from '../../shared/ids.ts';
import { Uuid } from '../../shared/schemas.ts';

export const LIMITS = {
  /** Lines in one order (the cart's own limit is 100). */
  linesMax: 100,
  quantityMax: 99,
  pageDefault: 20,
  pageMax: 100,
} as const;

export const IDEMPOTENCY_KEY_PATTERN = '^[A-Za-z0-9_-]{1,100}$';

export const CheckoutHeaders = Type.Object({
  'idempotency-key': Type.String({
    pattern: IDEMPOTENCY_KEY_PATTERN,
    description: 'Client-chosen key, 1–100 characters of A–Z a–z 0–9 _ -; a retry sends the same key',
  }),
});

export const OrderStatusSchema = Type.Union(
  [Type.Literal('placed'), Type.Literal('shipped'), Type.Literal('delivered'), Type.Literal('cancelled')],
  { description: 'placed → shipped → delivered; placed → cancelled' },
);
export type OrderStatus = Static<typeof OrderStatusSchema>;

const Timestamp = Type.String({ format: 'date-time' });
const MaybeTimestamp = Type.Union([Timestamp, Type.Null()]);

export const OrderLineSchema = Type.Object({
  productId: Uuid,
  sellerId: Uuid,
  title: Type.String({ description: 'Snapshot at checkout' }),
  priceMinor: Type.Integer({ description: 'Unit price at checkout, in the minor unit' }),
  quantity: Type.Integer(),
  lineTotalMinor: Type.Integer(),
  shippedAt: MaybeTimestamp,
});
export type OrderLine = Static<typeof OrderLineSchema>;

export const OrderSchema = Type.Object({
  id: Uuid,
  buyerId: Uuid,
  status: OrderStatusSchema,
  currency: Type.String(),
  totalMinor: Type.Integer(),
  itemCount: Type.Integer(),
  lines: Type.Array(OrderLineSchema),
  placedAt: Timestamp,
  shippedAt: MaybeTimestamp,
  deliveredAt: MaybeTimestamp,
  cancelledAt: MaybeTimestamp,
});
export type Order = Static<typeof OrderSchema>;

const NextCursor = Type.Union([Type.String(), Type.Null()], {
  description: 'Pass as `cursor` for the next page; null on the last page',
});

export const OrderPageSchema = Type.Object({ items: Type.Array(OrderSchema), nextCursor: NextCursor });
export type OrderPage = Static<typeof OrderPageSchema>;

const Limit = Type.Integer({ minimum: 1, maximum: LIMITS.pageMax, default: LIMITS.pageDefault });
const Cursor = Type.String({ pattern: UUID_PATTERN, description: 'nextCursor of the previous page' });

export const OrderListQuery = Type.Object(
  { limit: Limit, cursor: Type.Optional(Cursor) },
  { additionalProperties: false },
);
export type OrderListInput = Static<typeof OrderListQuery>;

export const SellerOrderSchema = Type.Object({
  orderId: Uuid,
  buyerId: Uuid,
  status: OrderStatusSchema,
  currency: Type.String(),
  subtotalMinor: Type.Integer({ description: "This seller's lines only" }),
  lines: Type.Array(
    Type.Object({
      productId: Uuid,
      title: Type.String(),
      priceMinor: Type.Integer(),
      quantity: Type.Integer(),
    }),
  ),
  placedAt: Timestamp,
  shippedAt: MaybeTimestamp,
});
export type SellerOrder = Static<typeof SellerOrderSchema>;

export const SellerOrderPageSchema = Type.Object({
  items: Type.Array(SellerOrderSchema),
  nextCursor: NextCursor,
});
export type SellerOrderPage = Static<typeof SellerOrderPageSchema>;

export const SellerOrderListQuery = Type.Object(
  { limit: Limit, cursor: Type.Optional(Cursor), status: Type.Optional(OrderStatusSchema) },
  { additionalProperties: false },
);
export type SellerOrderListInput = Static<typeof SellerOrderListQuery>;
