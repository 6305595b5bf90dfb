import { useSession } from '../../app/session.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { plural } from '../../lib/format.ts';
import type { ProductViews, TopSearches } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';
import { SellerLayout } from './seller-layout.tsx';

const DAYS = 30;

/** Views summed per day over [from, to], days without views included as 0. */
function perDay(views: ProductViews): { day: string; views: number }[] {
  const sums = new Map<string, number>();
  for (const v of views.items) sums.set(v.day.slice(0, 10), (sums.get(v.day.slice(0, 10)) ?? 0) + v.views);
  const out: { day: string; views: number }[] = [];
  const end = new Date(`${views.to.slice(0, 10)}T00:00:00Z`);
  for (let d = new Date(`${views.from.slice(0, 10)}T00:00:00Z`); d <= end; d.setUTCDate(d.getUTCDate() + 1)) {
    const key = d.toISOString().slice(0, 10);
    out.push({ day: key, views: sums.get(key) ?? 0 });
  }
  return out;
}

const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

function ViewsChart({ data }: { data: { day: string; views: number }[] }) {
  const width = 640;
  const height = 220;
  const pad = { top: 16, right: 8, bottom: 28, left: 36 };
  const max = Math.max(1, ...data.map((d) => d.views));
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const bar = innerW / Math.max(1, data.length);
  const total = data.reduce((n, d) => n + d.views, 0);
  const ticks = [0, Math.round(max / 2), max];
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="views-title views-desc">
        <title id="views-title">Views per day</title>
        <desc id="views-desc">
          {`${total} views of your products over ${data.length} days; the busiest day had ${max === 1 && total === 0 ? 0 : max}.`}
        </desc>
        {ticks.map((t) => {
          const y = pad.top + innerH - (t / max) * innerH;
          return (
            <g key={t}>
              <line x1={pad.left} x2={width - pad.right} y1={y} y2={y} className="grid-line" />
              <text x={pad.left - 6} y={y + 4} textAnchor="end" className="axis">
                {t}
              </text>
            </g>
          );
        })}
        {data.map((d, i) => {
          const h = (d.views / max) * innerH;
          return (
            <rect
              key={d.day}
              x={pad.left + i * bar + 1}
              y={pad.top + innerH - h}
              width={Math.max(1, bar - 2)}
              height={h}
              className="bar"
            >
              <title>{`${dayLabel.format(new Date(d.day))}: ${d.views} views`}</title>
            </rect>
          );
        })}
        {data.map((d, i) =>
          (i % 7 === 0 && data.length - 1 - i >= 4) || i === data.length - 1 ? (
            <text
              key={d.day}
              x={pad.left + i * bar + bar / 2}
              y={height - 8}
              textAnchor="middle"
              className="axis"
            >
              {dayLabel.format(new Date(d.day))}
            </text>
          ) : null,
        )}
      </svg>
    </figure>
  );
}

export function AnalyticsPage() {
  const { user } = useSession();
  const seller = user?.role === 'seller' || user?.role === 'admin';
  const views = useApi<ProductViews>(seller ? `/api/analytics/product-views?days=${DAYS}` : null);
  const searches = useApi<TopSearches>(seller ? '/api/analytics/top-searches?period=week&limit=10' : null);

  return (
    <SellerLayout title="Analytics" next="/sell/analytics">
      <div className="analytics">
        <section className="card-panel">
          <h2>Views per day</h2>
          <p className="muted">
            Views of your products over the last {DAYS} days (updated every few minutes).
          </p>
          {views.loading && <Loading />}
          <ErrorAlert error={views.error} />
          {views.data && <ViewsChart data={perDay(views.data)} />}
        </section>
        <section className="card-panel">
          <h2>Top searches</h2>
          <p className="muted">What shoppers searched for most this week.</p>
          {searches.loading && <Loading />}
          <ErrorAlert error={searches.error} />
          {searches.data &&
            (searches.data.items.length === 0 ? (
              <Empty>No searches yet this week.</Empty>
            ) : (
              <ol className="top-searches" aria-label="Top searches">
                {searches.data.items.map((s) => (
                  <li key={s.query}>
                    <span>{s.query}</span>{' '}
                    <span className="muted">{plural(s.searches, 'search', 'searches')}</span>
                  </li>
                ))}
              </ol>
            ))}
        </section>
      </div>
    </SellerLayout>
  );
}
