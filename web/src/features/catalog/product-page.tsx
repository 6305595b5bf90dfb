import { type FormEvent, useEffect, useId, useState } from 'react';
import { Link } from '../../app/router.tsx';
import { flatCategories, useSession } from '../../app/session.tsx';
import { Picture } from '../../components/picture.tsx';
import { ErrorAlert, Loading, Notice } from '../../components/status.tsx';
import { formatMoney, stockText } from '../../lib/format.ts';
import type { Product } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';
import { addToCart, MAX_QUANTITY } from '../cart/cart-api.ts';

function Gallery({ product }: { product: Product }) {
  const [index, setIndex] = useState(0);
  const photos = product.photos;
  const shown = photos[Math.min(index, photos.length - 1)];
  return (
    <div className="gallery">
      <Picture
        photo={shown ?? null}
        alt={product.title}
        sizes="(max-width: 800px) 100vw, 560px"
        eager
        className="gallery-main"
      />
      {photos.length > 1 && (
        <ul className="thumbs" aria-label="Photos">
          {photos.map((p, i) => (
            <li key={p.id}>
              <button
                type="button"
                className="thumb"
                aria-label={`Show photo ${i + 1} of ${photos.length}`}
                aria-pressed={i === index}
                onClick={() => setIndex(i)}
              >
                <Picture photo={p} alt="" sizes="72px" />
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function ProductPage({ params }: { params: Record<string, string> }) {
  const id = params['id'] ?? '';
  const { data: product, error, loading } = useApi<Product>(`/api/products/${encodeURIComponent(id)}`);
  const { categories, refreshCart, user } = useSession();
  const [quantity, setQuantity] = useState('1');
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<number | null>(null);
  const [addError, setAddError] = useState<unknown>(null);
  const quantityId = useId();

  useEffect(() => {
    if (product) document.title = `${product.title} · Bazaar`;
    return () => {
      document.title = 'Bazaar';
    };
  }, [product]);

  if (loading && !product) return <Loading />;
  if (error || !product)
    return (
      <section className="page narrow">
        <h1>Product not available</h1>
        <ErrorAlert error={error} />
        <p>
          <Link to="/">Back to the shop</Link>
        </p>
      </section>
    );

  const category = flatCategories(categories).find((c) => c.id === product.categoryId);
  const soldOut = product.stock <= 0;
  const max = Math.max(1, Math.min(product.stock, MAX_QUANTITY));
  const own = user && user.id === product.sellerId;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const n = Number(quantity);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      setAddError(new Error(`choose a quantity from 1 to ${max}`));
      return;
    }
    setBusy(true);
    setAddError(null);
    setAdded(null);
    try {
      await addToCart(product.id, n);
      await refreshCart();
      setAdded(n);
    } catch (err) {
      setAddError(err);
    } finally {
      setBusy(false);
    }
  };

  const attributes = Object.entries(product.attributes);
  return (
    <article className="page product">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/">Home</Link>
        {category && (
          <>
            {' / '}
            <Link to={`/c/${category.slug}`}>{category.name}</Link>
          </>
        )}
      </nav>
      <div className="product-layout">
        <Gallery product={product} />
        <div className="product-info">
          <h1>{product.title}</h1>
          {product.status === 'draft' && <p className="badge-draft">Draft — only you can see it</p>}
          <p className="product-price">{formatMoney(product.priceMinor, product.currency)}</p>
          <p className={`stock ${soldOut ? 'sold-out' : product.stock <= 5 ? 'low' : 'ok'}`}>
            {stockText(product.stock)}
          </p>
          {own ? (
            <p className="own-product">You sell this product, so it cannot go in your cart.</p>
          ) : (
            <form className="buy" onSubmit={submit}>
              <div className="field inline">
                <label htmlFor={quantityId}>Quantity</label>
                <input
                  id={quantityId}
                  type="number"
                  inputMode="numeric"
                  min={1}
                  max={max}
                  step={1}
                  value={quantity}
                  disabled={soldOut}
                  onChange={(e) => setQuantity(e.target.value)}
                />
              </div>
              <button type="submit" className="button primary" disabled={soldOut || busy}>
                {soldOut ? 'Sold out' : busy ? 'Adding…' : 'Add to cart'}
              </button>
            </form>
          )}
          <ErrorAlert error={addError} />
          {added !== null && (
            <Notice>
              Added {added} to your cart. <Link to="/cart">View cart</Link>
            </Notice>
          )}
          {own && (
            <p>
              <Link to={`/sell/products/${product.id}`}>Edit this product</Link>
            </p>
          )}
          <h2 className="visually-hidden">Description</h2>
          <div className="description">
            {product.description.split(/\n{2,}/).map((para, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: paragraphs have no identity
              <p key={i}>{para}</p>
            ))}
          </div>
          {attributes.length > 0 && (
            <dl className="attributes">
              {attributes.map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)}</dd>
                </div>
              ))}
            </dl>
          )}
        </div>
      </div>
    </article>
  );
}
