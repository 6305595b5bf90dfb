import { Link } from '../app/router.tsx';
import { formatMoney, stockText } from '../lib/format.ts';
import type { ProductListItem } from '../lib/types.ts';
import { Picture } from './picture.tsx';

export function ProductCard({ product }: { product: ProductListItem }) {
  return (
    <li className="card">
      <Link to={`/p/${product.id}`} className="card-link">
        <Picture
          photo={product.photo}
          alt={product.title}
          sizes="(max-width: 600px) 50vw, 240px"
          className="card-photo"
        />
        <span className="card-title">{product.title}</span>
      </Link>
      <span className="card-meta">
        <span className="price">{formatMoney(product.priceMinor, product.currency)}</span>
        {product.stock <= 5 && (
          <span className={product.stock === 0 ? 'stock sold-out' : 'stock low'}>
            {stockText(product.stock)}
          </span>
        )}
      </span>
    </li>
  );
}

export function ProductGrid({ products, label }: { products: ProductListItem[]; label?: string }) {
  return (
    <ul className="grid" aria-label={label}>
      {products.map((p) => (
        <ProductCard key={p.id} product={p} />
      ))}
    </ul>
  );
}
