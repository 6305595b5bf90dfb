import { useState } from 'react';
import { Link, useNavigate } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { ApiError, api, errorMessage } from '../../lib/api.ts';
import { formatMoney } from '../../lib/format.ts';
import type { Cart, Order } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';

const KEY = 'bazaar.checkout-key';

/**
 * The Idempotency-Key of this checkout attempt: made once, kept in sessionStorage until the
 * order is placed, so a double click, a retry after a timeout or a reload can never order twice.
 */
function attemptKey(): string {
  let key = sessionStorage.getItem(KEY);
  if (!key) {
    key = crypto.randomUUID();
    sessionStorage.setItem(KEY, key);
  }
  return key;
}

/** A refusal that is final for this cart: the next attempt (after changing it) gets a new key. */
function isFinal(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500 && err.code !== 'IN_PROGRESS';
}

type Shortage = { productId: string; requested: number; available: number; reason?: string };

/** "“Mug” is sold out." from the problem's shortages (or own products) and the cart's titles; else the problem's detail. */
function checkoutMessage(err: unknown, cart: Cart | undefined): string {
  const title = (id: string) => cart?.items.find((i) => i.productId === id)?.product?.title ?? 'An item';
  if (err instanceof ApiError && err.code === 'OWN_PRODUCT' && Array.isArray(err.problem?.['productIds'])) {
    const titles = (err.problem['productIds'] as string[]).map((id) => `“${title(id)}”`).join(', ');
    return `You sell ${titles}, and sellers cannot buy their own products. Remove it from your cart, then place the order again.`;
  }
  if (err instanceof ApiError && Array.isArray(err.problem?.['shortages'])) {
    const shortages = err.problem['shortages'] as Shortage[];
    const parts = shortages.map((s) =>
      s.reason === 'unavailable'
        ? `“${title(s.productId)}” is no longer for sale`
        : s.available <= 0
          ? `“${title(s.productId)}” is sold out`
          : `only ${s.available} of “${title(s.productId)}” left (you asked for ${s.requested})`,
    );
    if (parts.length > 0) {
      const text = parts.join('; ');
      return `${text[0]!.toUpperCase()}${text.slice(1)}. Update your cart, then place the order again.`;
    }
  }
  return errorMessage(err);
}

export function CheckoutPage() {
  const { user, refreshCart } = useSession();
  const cart = useApi<Cart>('/api/cart');
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (user === undefined || (cart.loading && !cart.data)) return <Loading />;

  if (user === null)
    return (
      <section className="page narrow">
        <h1>Checkout</h1>
        <p>Log in or create an account to place your order. Your cart comes with you.</p>
        <p className="actions">
          <Link to="/login?next=/checkout" className="button primary">
            Log in
          </Link>
          <Link to="/signup?next=/checkout" className="button">
            Sign up
          </Link>
        </p>
      </section>
    );

  const placeOrder = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const order = await api<Order>('/api/orders', {
        method: 'POST',
        headers: { 'idempotency-key': attemptKey() },
      });
      sessionStorage.removeItem(KEY);
      void refreshCart();
      navigate(`/orders/${order.id}`);
    } catch (err) {
      if (isFinal(err)) sessionStorage.removeItem(KEY);
      setError(checkoutMessage(err, cart.data));
      setBusy(false);
      cart.reload();
    }
  };

  const data = cart.data;
  return (
    <section className="page narrow">
      <h1>Checkout</h1>
      <ErrorAlert error={cart.error} />
      {data && data.items.length === 0 && !error && (
        <Empty>
          <p>Your cart is empty.</p>
          <p>
            <Link to="/">Continue shopping</Link>
          </p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="card-panel">
          <h2>Order summary</h2>
          <ul className="summary-lines">
            {data.items.map((i) => (
              <li key={i.productId}>
                <span>
                  {i.quantity} × {i.product?.title ?? 'Unavailable product'}
                  {i.product && !i.product.available && (
                    <span className="stock sold-out">
                      {' '}
                      · {i.product.stock === 0 ? 'sold out' : `only ${i.product.stock} left`}
                    </span>
                  )}
                </span>
                <span>
                  {i.product ? formatMoney(i.product.priceMinor * i.quantity, i.product.currency) : '—'}
                </span>
              </li>
            ))}
          </ul>
          {data.totalMinor !== null && data.currency && (
            <p className="summary-total">
              <span>Total</span> <strong>{formatMoney(data.totalMinor, data.currency)}</strong>
            </p>
          )}
          <p className="muted">Payment is not part of this demo: the order is placed without one.</p>
          {error && <ErrorAlert>{error}</ErrorAlert>}
          <button type="button" className="button primary block" onClick={placeOrder} disabled={busy}>
            {busy ? 'Placing order…' : 'Place order'}
          </button>
          <p>
            <Link to="/cart">Back to cart</Link>
          </p>
        </div>
      )}
      {data && data.items.length === 0 && error && <ErrorAlert>{error}</ErrorAlert>}
    </section>
  );
}
