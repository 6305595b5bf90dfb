import { type FormEvent, useEffect, useId, useState } from 'react';
import { Link, useNavigate, useSearchParam } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Field } from '../../components/field.tsx';
import { ErrorAlert, Loading, Notice } from '../../components/status.tsx';
import { api } from '../../lib/api.ts';
import { minorToInput, parseMoney } from '../../lib/format.ts';
import type { Product } from '../../lib/types.ts';
import { useApi } from '../../lib/use-api.ts';
import { StatusBadge } from '../orders/orders-pages.tsx';
import { PhotoManager } from './photo-manager.tsx';
import { SellerLayout } from './seller-layout.tsx';

type Form = { title: string; description: string; price: string; stock: string; categoryId: string };

const EMPTY: Form = { title: '', description: '', price: '', stock: '1', categoryId: '' };

function toForm(p: Product): Form {
  return {
    title: p.title,
    description: p.description,
    price: minorToInput(p.priceMinor),
    stock: String(p.stock),
    categoryId: p.categoryId,
  };
}

/** The body for the API, or a sentence saying what to fix. */
function validate(form: Form): { ok: true; body: Record<string, unknown> } | { ok: false; message: string } {
  const title = form.title.trim();
  if (!title) return { ok: false, message: 'Give the product a title.' };
  const priceMinor = parseMoney(form.price);
  if (priceMinor === null) return { ok: false, message: 'Write the price in dollars, such as 24 or 24.50.' };
  const stock = Number(form.stock);
  if (!Number.isInteger(stock) || stock < 0 || stock > 1_000_000)
    return { ok: false, message: 'Stock must be a whole number from 0 to 1,000,000.' };
  if (!form.categoryId) return { ok: false, message: 'Choose a category.' };
  return {
    ok: true,
    body: { title, description: form.description, priceMinor, stock, categoryId: form.categoryId },
  };
}

export function ProductEditorPage({ params }: { params: Record<string, string> }) {
  const id = params['id'];
  const isNew = id === undefined;
  return (
    <SellerLayout
      title={isNew ? 'New product' : 'Edit product'}
      next={isNew ? '/sell/products/new' : `/sell/products/${id}`}
    >
      {isNew ? <ProductForm /> : <ExistingProduct id={id} />}
    </SellerLayout>
  );
}

function ExistingProduct({ id }: { id: string }) {
  const product = useApi<Product>(`/api/products/${encodeURIComponent(id)}`);
  const created = useSearchParam('created') === '1';
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(
    created ? 'Saved as a draft. Add photos, then publish it.' : null,
  );
  const [confirmDelete, setConfirmDelete] = useState(false);

  if (product.loading && !product.data) return <Loading />;
  const p = product.data;
  if (!p)
    return (
      <>
        <ErrorAlert error={product.error} />
        <Link to="/sell/products">Back to my products</Link>
      </>
    );

  const setStatus = async (status: 'draft' | 'published') => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      product.setData(await api<Product>(`/api/products/${p.id}`, { method: 'PATCH', body: { status } }));
      setNotice(
        status === 'published' ? 'Published: buyers can find it now.' : 'Unpublished: only you can see it.',
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/api/products/${p.id}`, { method: 'DELETE' });
      navigate('/sell/products');
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <div className="editor">
      <p className="editor-status">
        Status: <StatusBadge status={p.status} />
        {p.status === 'published' && (
          <>
            {' · '}
            <Link to={`/p/${p.id}`}>View in the shop</Link>
          </>
        )}
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ErrorAlert error={error} />
      <div className="actions">
        {p.status === 'draft' ? (
          <button
            type="button"
            className="button primary"
            disabled={busy}
            onClick={() => setStatus('published')}
          >
            Publish
          </button>
        ) : (
          <button type="button" className="button" disabled={busy} onClick={() => setStatus('draft')}>
            Unpublish
          </button>
        )}
        {confirmDelete ? (
          <fieldset className="confirm">
            <legend>Delete “{p.title}” for good?</legend>
            <button type="button" className="button danger" disabled={busy} onClick={remove}>
              Yes, delete
            </button>
            <button type="button" className="button" onClick={() => setConfirmDelete(false)}>
              Keep it
            </button>
          </fieldset>
        ) : (
          <button
            type="button"
            className="button danger"
            disabled={busy}
            onClick={() => setConfirmDelete(true)}
          >
            Delete
          </button>
        )}
      </div>
      <div className="editor-layout">
        <ProductForm product={p} onSaved={(saved) => product.setData(saved)} />
        <PhotoManager productId={p.id} title={p.title} />
      </div>
    </div>
  );
}

function ProductForm({ product, onSaved }: { product?: Product; onSaved?(p: Product): void }) {
  const { categories } = useSession();
  const navigate = useNavigate();
  const [form, setForm] = useState<Form>(product ? toForm(product) : EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const descriptionId = useId();
  const categoryId = useId();

  useEffect(() => {
    if (product) setForm(toForm(product));
  }, [product]);

  const set = (key: keyof Form) => (e: { target: { value: string } }) => {
    setSaved(false);
    setForm((f) => ({ ...f, [key]: e.target.value }));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const checked = validate(form);
    if (!checked.ok) {
      setError(new Error(checked.message));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (product) {
        onSaved?.(await api<Product>(`/api/products/${product.id}`, { method: 'PATCH', body: checked.body }));
        setSaved(true);
      } else {
        const created = await api<Product>('/api/products', { method: 'POST', body: checked.body });
        navigate(`/sell/products/${created.id}?created=1`, { replace: true });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form card-panel product-form" onSubmit={submit} noValidate>
      <Field label="Title" required maxLength={200} value={form.title} onChange={set('title')} />
      <div className="field">
        <label htmlFor={descriptionId}>Description</label>
        <textarea
          id={descriptionId}
          rows={6}
          maxLength={5000}
          value={form.description}
          onChange={set('description')}
        />
      </div>
      <div className="row">
        <Field
          label="Price"
          inputMode="decimal"
          required
          placeholder="24.00"
          hint="In dollars (USD)."
          value={form.price}
          onChange={set('price')}
        />
        <Field
          label="Stock"
          type="number"
          inputMode="numeric"
          min={0}
          required
          value={form.stock}
          onChange={set('stock')}
        />
      </div>
      <div className="field">
        <label htmlFor={categoryId}>Category</label>
        <select id={categoryId} required value={form.categoryId} onChange={set('categoryId')}>
          <option value="">Choose a category…</option>
          {(categories ?? []).map((c) => (
            <optgroup key={c.id} label={c.name}>
              <option value={c.id}>{c.name} (general)</option>
              {c.children.map((child) => (
                <option key={child.id} value={child.id}>
                  {child.name}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </div>
      <ErrorAlert error={error} />
      {saved && <Notice>Saved.</Notice>}
      <button type="submit" className="button primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save'}
      </button>
    </form>
  );
}
