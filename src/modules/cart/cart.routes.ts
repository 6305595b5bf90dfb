/**
 * /api/cart. Thin: the schema validates, the service decides; this file finds whose cart it is
 * from the session. A signed-in buyer's cart is theirs; an anonymous visitor's cart id lives in
 * their session's data (`cartId`), a session and cookie being made on their first change. Sign-in
 * and sign-up carry `cartId` into the new session; `mergeAtSignIn` (the module's sign-in step)
 * then merges that anonymous cart into the buyer's in the same request and drops `cartId`. Should
 * that step fail, the next cart request merges it (once, however many requests race).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiApp } from '../../http/api-app.ts';
import { setSessionCookie } from '../../http/auth.ts';
import { OPTIONAL_SESSION_SECURITY } from '../../http/openapi.ts';
import { problems } from '../../http/schemas.ts';
import type { Session } from '../../platform/sessions/sessions.ts';
import { isUuid, uuidv7 } from '../../shared/ids.ts';
import type { ModuleDeps, SignInStep } from '../module.ts';
import { CartItemParams, CartSchema, SetQuantityBody } from './cart.schema.ts';
import { type Cart, type CartOwner, type CartService, createCartService } from './cart.service.ts';

const tags = ['cart'];
const EMPTY: Cart = { items: [], totalMinor: 0, currency: null };

const cartIdOf = (session: Session | null): string | undefined => {
  const id = session?.data['cartId'];
  return typeof id === 'string' && isUuid(id) ? id : undefined;
};

/** Merges the signed-in session's pending anonymous cart into the user's, then drops it from the session. */
async function mergePending(
  cart: CartService,
  { sessions }: ModuleDeps['platform'],
  session: Session,
): Promise<void> {
  const cartId = cartIdOf(session);
  if (!session.userId || !cartId) return;
  await cart.mergeAnonymousCart(cartId, session.userId);
  const data = Object.fromEntries(Object.entries(session.data).filter(([k]) => k !== 'cartId'));
  await sessions.update(session.id, data);
}

/** The cart module's sign-in step: the visitor's anonymous cart joins their account before the sign-in answers. */
export function mergeAtSignIn({ platform }: ModuleDeps): SignInStep {
  const cart = createCartService(platform);
  return (session) => mergePending(cart, platform, session);
}

export function cartRoutes(app: ApiApp, { config, platform }: ModuleDeps): void {
  const cart = createCartService(platform);

  /** The request's cart owner, after merging a pending anonymous cart; null when it has none yet. */
  async function ownerOf(request: FastifyRequest): Promise<CartOwner | null> {
    const session = await request.session();
    if (session?.userId) {
      await mergePending(cart, platform, session);
      return { kind: 'buyer', buyerId: session.userId };
    }
    const cartId = cartIdOf(session);
    return cartId ? { kind: 'anonymous', cartId } : null;
  }

  /**
   * A new anonymous cart id for a visitor without one, and how to tie it to their session once
   * the cart has been written (so a refused change leaves no session behind).
   */
  function newAnonymousCart(request: FastifyRequest, reply: FastifyReply) {
    const cartId = uuidv7();
    return {
      owner: { kind: 'anonymous', cartId } as const,
      async attach() {
        const session = await request.session();
        if (session && (await platform.sessions.update(session.id, { ...session.data, cartId }))) return;
        setSessionCookie(reply, config, await platform.sessions.create({ userId: null, data: { cartId } }));
      },
    };
  }

  app.get(
    '/api/cart',
    {
      schema: {
        tags,
        operationId: 'getCart',
        security: OPTIONAL_SESSION_SECURITY,
        summary: "The visitor's cart (signed-in buyer's, or anonymous by session) with current product data",
        response: { 200: CartSchema, ...problems(401) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'private, no-store');
      const owner = await ownerOf(request);
      return owner ? cart.getCart(owner) : EMPTY;
    },
  );

  app.put(
    '/api/cart/items/:productId',
    {
      schema: {
        tags,
        operationId: 'setCartItem',
        security: OPTIONAL_SESSION_SECURITY,
        summary: "Set a product's quantity in the cart (adds the line when new)",
        description:
          'Quantity 1–99; at most 100 different products (409 CART_FULL). The product must exist ' +
          "and be published (404 otherwise), and not be the signed-in seller's own (422 OWN_PRODUCT). " +
          'An anonymous visitor gets a session cookie.',
        params: CartItemParams,
        body: SetQuantityBody,
        response: { 200: CartSchema, ...problems(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'private, no-store');
      const { productId } = request.params;
      const { quantity } = request.body;
      const owner = await ownerOf(request);
      if (owner) return cart.setQuantity(owner, productId, quantity);
      const fresh = newAnonymousCart(request, reply);
      const result = await cart.setQuantity(fresh.owner, productId, quantity);
      await fresh.attach();
      return result;
    },
  );

  app.delete(
    '/api/cart/items/:productId',
    {
      schema: {
        tags,
        operationId: 'removeCartItem',
        security: OPTIONAL_SESSION_SECURITY,
        summary: "Remove a product's line from the cart (idempotent)",
        params: CartItemParams,
        response: { 200: CartSchema, ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'private, no-store');
      const owner = await ownerOf(request);
      return owner ? cart.removeItem(owner, request.params.productId) : EMPTY;
    },
  );
}
