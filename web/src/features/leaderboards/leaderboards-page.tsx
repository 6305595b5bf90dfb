import { useState } from 'react';
import { Link } from '../../app/router.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { plural } from '../../lib/format.ts';
import type { ProductBoard, SellerBoard } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';

type Period = 'week' | 'all';

export function LeaderboardsPage() {
  const [period, setPeriod] = useState<Period>('week');
  const products = useApi<ProductBoard>(`/api/leaderboards/products?period=${period}&limit=10`);
  const sellers = useApi<SellerBoard>(`/api/leaderboards/sellers?period=${period}&limit=10`);

  return (
    <div className="page">
      <div className="section-head">
        <h1>Leaderboards</h1>
        <fieldset className="segmented">
          <legend className="visually-hidden">Period</legend>
          {(
            [
              ['week', 'This week'],
              ['all', 'All time'],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className={period === value ? 'active' : ''}>
              <input
                type="radio"
                name="period"
                value={value}
                checked={period === value}
                onChange={() => setPeriod(value)}
              />
              {label}
            </label>
          ))}
        </fieldset>
      </div>
      <div className="boards">
        <section className="card-panel">
          <h2>Top products</h2>
          {products.loading && <Loading />}
          <ErrorAlert error={products.error} />
          {products.data &&
            (products.data.items.length === 0 ? (
              <Empty>No sales in this period yet.</Empty>
            ) : (
              <ol className="board">
                {products.data.items.map((i) => (
                  <li key={i.productId}>
                    <span className="rank">{i.rank}</span>
                    <Link to={`/p/${i.productId}`}>{i.title ?? 'A removed product'}</Link>
                    <span className="muted">{plural(i.unitsSold, 'sold', 'sold')}</span>
                  </li>
                ))}
              </ol>
            ))}
        </section>
        <section className="card-panel">
          <h2>Top sellers</h2>
          {sellers.loading && <Loading />}
          <ErrorAlert error={sellers.error} />
          {sellers.data &&
            (sellers.data.items.length === 0 ? (
              <Empty>No sales in this period yet.</Empty>
            ) : (
              <ol className="board">
                {sellers.data.items.map((i) => (
                  <li key={i.sellerId}>
                    <span className="rank">{i.rank}</span>
                    <span>{i.name ?? 'A seller'}</span>
                    <span className="muted">{plural(i.unitsSold, 'unit')} sold</span>
                  </li>
                ))}
              </ol>
            ))}
        </section>
      </div>
    </div>
  );
}
