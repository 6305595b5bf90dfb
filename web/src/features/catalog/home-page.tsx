import { useEffect, useState } from 'react';
import { Link } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { ProductGrid } from '../../components/product-card.tsx';
import { Empty, ErrorAlert, Loading } from '../../components/status.tsx';
import { api } from '../../lib/api.ts';
import type { Page, Product, ProductBoard, ProductListItem } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';

const FEATURED = 8;

/** Best sellers of all time, as listing items (the leaderboard names products; details fill them in). */
function useBestSellers() {
  const [state, setState] = useState<{ items?: ProductListItem[]; error?: unknown }>({});
  useEffect(() => {
    let live = true;
    (async () => {
      const board = await api<ProductBoard>('/api/leaderboards/products?period=all&limit=8');
      const products = await Promise.all(
        board.items.map((i) => api<Product>(`/api/products/${i.productId}`).catch(() => null)),
      );
      const items = products
        .filter((p): p is Product => p !== null)
        .map(({ photos, ...p }) => ({ ...p, photo: photos[0] ?? null }));
      if (live) setState({ items });
    })().catch((error: unknown) => live && setState({ error }));
    return () => {
      live = false;
    };
  }, []);
  return state;
}

export function HomePage() {
  const { categories } = useSession();
  // Featured: the newest products that have a photo.
  const latest = useApi<Page<ProductListItem>>('/api/products?sort=newest&limit=60');
  const featured = (latest.data?.items ?? []).filter((p) => p.photo).slice(0, FEATURED);
  const featuredItems = featured.length > 0 ? featured : (latest.data?.items ?? []).slice(0, FEATURED);
  const best = useBestSellers();

  return (
    <div className="page home">
      <section className="hero">
        <h1>Bazaar</h1>
        <p>Things made with care, from independent sellers. Find something good.</p>
      </section>

      <nav aria-label="Categories" className="categories">
        {categories === undefined ? (
          <Loading />
        ) : (
          <ul>
            {categories.map((c) => (
              <li key={c.id}>
                <Link to={`/c/${c.slug}`} className="chip">
                  {c.name}
                </Link>
              </li>
            ))}
          </ul>
        )}
      </nav>

      <section aria-labelledby="featured">
        <h2 id="featured">Featured</h2>
        {latest.loading && <Loading />}
        <ErrorAlert error={latest.error} />
        {latest.data && <ProductGrid products={featuredItems} label="Featured products" />}
      </section>

      <section aria-labelledby="best-sellers">
        <div className="section-head">
          <h2 id="best-sellers">Best sellers</h2>
          <Link to="/leaderboards">All leaderboards</Link>
        </div>
        {!best.items && !best.error && <Loading />}
        <ErrorAlert error={best.error} />
        {best.items &&
          (best.items.length > 0 ? (
            <ProductGrid products={best.items} label="Best-selling products" />
          ) : (
            <Empty>Nothing has sold yet — the first orders will show up here.</Empty>
          ))}
      </section>
    </div>
  );
}
