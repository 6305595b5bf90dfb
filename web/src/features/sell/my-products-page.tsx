import { useEffect, useState } from 'react';
import { Link } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { api } from '../../lib/api.ts';
import { formatMoney } from '../../lib/format.ts';
import type { Page, ProductListItem } from '../../lib/types.ts';
import { StatusBadge } from '../orders/orders-pages.tsx';
import { SellerLayout } from './seller-layout.tsx';

export function MyProductsPage() {
  const { user } = useSession();
  const seller = user?.role === 'seller' || user?.role === 'admin';
  const [items, setItems] = useState<ProductListItem[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  const load = async (cursor: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api<Page<ProductListItem>>(
        `/api/seller/products?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      setItems((old) => (cursor ? [...(old ?? []), ...page.items] : page.items));
      setNext(page.nextCursor);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: load once per seller
  useEffect(() => {
    if (seller) void load(null);
  }, [seller]);

  return (
    <SellerLayout title="My products" next="/sell/products">
      <p>
        <Link to="/sell/products/new" className="button primary">
          New product
        </Link>
      </p>
      {loading && !items && <Loading />}
      <ErrorAlert error={error} />
      {items && items.length === 0 && <Empty>You have no products yet. Create your first one.</Empty>}
      {items && items.length > 0 && (
        <div className="table-wrap">
          <table className="products-table">
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Status</th>
                <th scope="col">Price</th>
                <th scope="col">Stock</th>
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/sell/products/${p.id}`}>{p.title}</Link>
                  </td>
                  <td>
                    <StatusBadge status={p.status} />
                  </td>
                  <td>{formatMoney(p.priceMinor, p.currency)}</td>
                  <td>{p.stock}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <div className="load-more">
          <button type="button" className="button" disabled={loading} onClick={() => load(next)}>
            {loading ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </SellerLayout>
  );
}
