import { useState } from 'react';
import { Link } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { api } from '../../lib/api.ts';
import { formatDate, formatMoney } from '../../lib/format.ts';
import type { Page, SellerOrder } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';
import { StatusBadge } from '../orders/orders-pages.tsx';
import { SellerLayout } from './seller-layout.tsx';

export function SellerOrdersPage() {
  const { user } = useSession();
  const seller = user?.role === 'seller' || user?.role === 'admin';
  const orders = useApi<Page<SellerOrder>>(seller ? '/api/seller/orders?limit=50' : null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const ship = async (orderId: string) => {
    setBusy(orderId);
    setError(null);
    try {
      await api(`/api/seller/orders/${orderId}/ship`, { method: 'POST' });
      orders.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <SellerLayout title="My orders" next="/sell/orders">
      {orders.loading && !orders.data && <Loading />}
      <ErrorAlert error={orders.error ?? error} />
      {orders.data && orders.data.items.length === 0 && (
        <Empty>No orders yet. They will appear here as buyers order.</Empty>
      )}
      {orders.data && orders.data.items.length > 0 && (
        <div className="table-wrap">
          <table className="orders-table">
            <thead>
              <tr>
                <th scope="col">Placed</th>
                <th scope="col">Items</th>
                <th scope="col">Subtotal</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.data.items.map((o) => (
                <tr key={o.orderId}>
                  <td>{formatDate(o.placedAt)}</td>
                  <td>
                    <ul className="plain">
                      {o.lines.map((l) => (
                        <li key={l.productId}>
                          {l.quantity} × <Link to={`/p/${l.productId}`}>{l.title}</Link>
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>{formatMoney(o.subtotalMinor, o.currency)}</td>
                  <td>
                    <StatusBadge status={o.shippedAt && o.status === 'placed' ? 'shipped' : o.status} />
                  </td>
                  <td>
                    {o.status === 'placed' && !o.shippedAt && (
                      <button
                        type="button"
                        className="button small"
                        disabled={busy === o.orderId}
                        onClick={() => ship(o.orderId)}
                      >
                        {busy === o.orderId ? 'Shipping…' : 'Ship'}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </SellerLayout>
  );
}
