/** cart: buyers' and anonymous visitors' carts on the kv port. Other modules import only this file. */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../module.ts';
import { cartRoutes, mergeAtSignIn } from './cart.routes.ts';

export const cartModule: WebModule = {
  name: 'cart',
  // No tables: carts live in the kv port. The set exists so the domain has its migration home.
  migrations: { domain: 'cart', dir: fileURLToPath(new URL('../../../migrations/cart/', import.meta.url)) },
  routes: cartRoutes,
  onSignIn: mergeAtSignIn,
};

export {
  ANONYMOUS_CART_TTL_MS,
  type Cart,
  type CartItem,
  type CartOwner,
  type CartProduct,
  type CartService,
  type CartServiceOptions,
  createCartService,
} from './cart.service.ts';
export { CART_LIMITS } from './cart-lines.ts';
