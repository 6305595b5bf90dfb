import { useState } from 'react';
import { Link } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { api } from '../../lib/api.ts';
import { formatDate, formatMoney, plural } from '../../lib/format.ts';
import type { Order, Page } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';

export function SignInFirst({ what, next }: { what: string; next: string }) {
  return (
    <section className="page narrow">
      <h1>Please log in</h1>
      <p>Log in to see {what}.</p>
      <p className="actions">
        <Link to={`/login?next=${encodeURIComponent(next)}`} className="button primary">
          Log in
        </Link>
        <Link to={`/signup?next=${encodeURIComponent(next)}`} className="button">
          Sign up
        </Link>
      </p>
    </section>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function OrdersPage() {
  const { user } = useSession();
  const orders = useApi<Page<Order>>(user ? '/api/orders?limit=50' : null);
  if (user === undefined) return <Loading />;
  if (user === null) return <SignInFirst what="your orders" next="/orders" />;
  return (
    <section className="page">
      <h1>Your orders</h1>
      {orders.loading && <Loading />}
      <ErrorAlert error={orders.error} />
      {orders.data && orders.data.items.length === 0 && (
        <Empty>
          <p>You have not ordered anything yet.</p>
          <p>
            <Link to="/">Start shopping</Link>
          </p>
        </Empty>
      )}
      {orders.data && orders.data.items.length > 0 && (
        <ul className="order-list">
          {orders.data.items.map((o) => (
            <li key={o.id} className="card-panel order-row">
              <Link to={`/orders/${o.id}`}>Order of {formatDate(o.placedAt)}</Link>
              <span>{plural(o.itemCount, 'item')}</span>
              <span>{formatMoney(o.totalMinor, o.currency)}</span>
              <StatusBadge status={o.status} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const HEADINGS: Record<Order['status'], string> = {
  placed: 'Order placed',
  shipped: 'Order shipped',
  delivered: 'Order delivered',
  cancelled: 'Order cancelled',
};

export function OrderPage({ params }: { params: Record<string, string> }) {
  const id = params['id'] ?? '';
  const { user } = useSession();
  const order = useApi<Order>(user ? `/api/orders/${encodeURIComponent(id)}` : null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  if (user === undefined) return <Loading />;
  if (user === null) return <SignInFirst what="this order" next={`/orders/${id}`} />;
  if (order.loading && !order.data) return <Loading />;
  const o = order.data;
  if (!o)
    return (
      <section className="page narrow">
        <h1>Order not found</h1>
        <ErrorAlert error={order.error} />
        <Link to="/orders">All your orders</Link>
      </section>
    );

  const act = async (action: 'cancel' | 'deliver') => {
    setBusy(true);
    setError(null);
    try {
      order.setData(await api<Order>(`/api/orders/${o.id}/${action}`, { method: 'POST' }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page narrow">
      <h1>{HEADINGS[o.status]}</h1>
      <p className="order-meta">
        Status: <StatusBadge status={o.status} /> · placed {formatDate(o.placedAt)}
        {o.shippedAt && <> · shipped {formatDate(o.shippedAt)}</>}
        {o.deliveredAt && <> · delivered {formatDate(o.deliveredAt)}</>}
        {o.cancelledAt && <> · cancelled {formatDate(o.cancelledAt)}</>}
      </p>
      {o.status === 'placed' && (
        <p>Thank you! We have sent the order to the sellers; you will get an email too.</p>
      )}
      <div className="card-panel">
        <table className="lines">
          <caption className="visually-hidden">Items in this order</caption>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Quantity</th>
              <th scope="col">Price</th>
            </tr>
          </thead>
          <tbody>
            {o.lines.map((l) => (
              <tr key={l.productId}>
                <td>
                  <Link to={`/p/${l.productId}`}>{l.title}</Link>
                  {l.shippedAt && <span className="muted"> · shipped</span>}
                </td>
                <td>{l.quantity}</td>
                <td>{formatMoney(l.lineTotalMinor, o.currency)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={2}>
                Total
              </th>
              <td>
                <strong>{formatMoney(o.totalMinor, o.currency)}</strong>
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
      <ErrorAlert error={error} />
      <p className="actions">
        {o.status === 'placed' && (
          <button type="button" className="button danger" disabled={busy} onClick={() => act('cancel')}>
            Cancel order
          </button>
        )}
        {o.status === 'shipped' && (
          <button type="button" className="button" disabled={busy} onClick={() => act('deliver')}>
            Mark as delivered
          </button>
        )}
        <Link to="/orders">All your orders</Link>
      </p>
    </section>
  );
}
