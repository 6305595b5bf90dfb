import { api } from '../../lib/api.ts';
import type { Cart } from '../../lib/types.ts';

export const MAX_QUANTITY = 99;

export function setQuantity(productId: string, quantity: number): Promise<Cart> {
  return api<Cart>(`/api/cart/items/${productId}`, { method: 'PUT', body: { quantity } });
}

export function removeItem(productId: string): Promise<Cart> {
  return api<Cart>(`/api/cart/items/${productId}`, { method: 'DELETE' });
}

/** Adds `quantity` to what the cart already holds of the product (the API sets, not adds). */
export async function addToCart(productId: string, quantity: number): Promise<Cart> {
  const cart = await api<Cart>('/api/cart');
  const have = cart.items.find((i) => i.productId === productId)?.quantity ?? 0;
  return setQuantity(productId, Math.min(MAX_QUANTITY, have + quantity));
}
