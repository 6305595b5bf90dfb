import { useEffect, useState } from 'react';
import { Link } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { formatMoney, plural } from '../../lib/format.ts';
import type { Cart } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';
import { MAX_QUANTITY, removeItem, setQuantity } from './cart-api.ts';

type Line = Cart['items'][number];

function CartLine({ line, onChange }: { line: Line; onChange(update: Promise<Cart>): void }) {
  const title = line.product?.title ?? 'A product that is no longer available';
  const [text, setText] = useState(String(line.quantity));
  useEffect(() => setText(String(line.quantity)), [line.quantity]);

  const commit = (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > MAX_QUANTITY || n === line.quantity) return;
    onChange(setQuantity(line.productId, n));
  };

  return (
    <li className="cart-line">
      <div className="cart-line-title">
        {line.product ? <Link to={`/p/${line.productId}`}>{title}</Link> : <span>{title}</span>}
        {line.product && !line.product.available && (
          <span className="stock sold-out">
            {line.product.stock === 0 ? 'Sold out' : `Only ${line.product.stock} left`}
          </span>
        )}
        {line.product && (
          <span className="muted">{formatMoney(line.product.priceMinor, line.product.currency)} each</span>
        )}
      </div>
      <label className="visually-hidden" htmlFor={`qty-${line.productId}`}>
        Quantity for {title}
      </label>
      <input
        id={`qty-${line.productId}`}
        className="qty"
        type="number"
        inputMode="numeric"
        min={1}
        max={MAX_QUANTITY}
        value={text}
        disabled={!line.product}
        onChange={(e) => {
          setText(e.target.value);
          // Spinner clicks and arrow keys commit at once; typed digits on blur or Enter.
          if ((e.nativeEvent as InputEvent).inputType === undefined) commit(e.target.value);
        }}
        onBlur={(e) => commit(e.target.value)}
        onKeyDown={(e) => e.key === 'Enter' && commit((e.target as HTMLInputElement).value)}
      />
      <span className="line-total">
        {line.product ? formatMoney(line.product.priceMinor * line.quantity, line.product.currency) : '—'}
      </span>
      <button
        type="button"
        className="link-button danger"
        aria-label={`Remove ${title}`}
        onClick={() => onChange(removeItem(line.productId))}
      >
        Remove
      </button>
    </li>
  );
}

export function CartPage() {
  const cart = useApi<Cart>('/api/cart');
  const { refreshCart } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const apply = async (update: Promise<Cart>) => {
    setBusy(true);
    setError(null);
    try {
      cart.setData(await update);
    } catch (err) {
      setError(err);
      cart.reload();
    } finally {
      setBusy(false);
      void refreshCart();
    }
  };

  if (cart.loading && !cart.data) return <Loading />;
  const data = cart.data;
  const count = data?.items.reduce((n, i) => n + i.quantity, 0) ?? 0;
  const blocked = data?.items.some((i) => !i.product?.available) ?? false;

  return (
    <section className="page">
      <h1>Your cart</h1>
      <ErrorAlert error={cart.error ?? error} />
      {data && data.items.length === 0 && (
        <Empty>
          <p>Your cart is empty.</p>
          <p>
            <Link to="/">Find something you like</Link>
          </p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="cart-layout" aria-busy={busy}>
          <ul className="cart-lines" aria-label="Items in your cart">
            {data.items.map((line) => (
              <CartLine key={line.productId} line={line} onChange={apply} />
            ))}
          </ul>
          <aside className="summary card-panel" aria-label="Cart summary">
            <p>
              {plural(count, 'item')}
              {data.totalMinor !== null && data.currency && (
                <strong className="total"> {formatMoney(data.totalMinor, data.currency)}</strong>
              )}
            </p>
            {blocked && <p className="muted">Remove or reduce the items marked above before checking out.</p>}
            <Link to="/checkout" className="button primary block">
              Checkout
            </Link>
          </aside>
        </div>
      )}
    </section>
  );
}
