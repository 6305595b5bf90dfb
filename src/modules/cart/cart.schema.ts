/** HTTP shapes of the cart module (TypeBox): the strict quantity body and the cart response. */
import { type Static, Type } from 'typebox';
import { Uuid } from '../../shared/schemas.ts';
import { CART_LIMITS } from './cart-lines.ts';

export const CartItemParams = Type.Object({ productId: Uuid }, { additionalProperties: false });

export const SetQuantityBody = Type.Object(
  {
    quantity: Type.Integer({
      minimum: 1,
      maximum: CART_LIMITS.maxQuantity,
      description: `1 to ${CART_LIMITS.maxQuantity}; replaces the line's quantity`,
    }),
  },
  { additionalProperties: false },
);
export type SetQuantity = Static<typeof SetQuantityBody>;

const CartProductSchema = Type.Object(
  {
    title: Type.String(),
    priceMinor: Type.Integer({ description: "Current price in the currency's minor unit" }),
    currency: Type.String(),
    stock: Type.Integer(),
    sellerId: Uuid,
    available: Type.Boolean({ description: 'In stock for the quantity in the cart' }),
  },
  { additionalProperties: false },
);

export const CartSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          productId: Uuid,
          quantity: Type.Integer({ minimum: 1, maximum: CART_LIMITS.maxQuantity }),
          addedAt: Type.String({ format: 'date-time' }),
          product: Type.Union([CartProductSchema, Type.Null()], {
            description: 'The product now; null when it was deleted or unpublished',
          }),
        },
        { additionalProperties: false },
      ),
      { maxItems: CART_LIMITS.maxLines },
    ),
    totalMinor: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Sum of price × quantity of items with a product; null when currencies differ',
    }),
    currency: Type.Union([Type.String(), Type.Null()], {
      description: 'The one currency of the priced items; null when empty or mixed',
    }),
  },
  { additionalProperties: false },
);
