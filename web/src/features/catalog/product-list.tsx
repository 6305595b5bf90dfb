/** A paged product listing (category and search): first page, then "Load more" by cursor. */
import { useEffect, useId, useState } from 'react';
import { ProductGrid } from '../../components/product-card.tsx';
import { ErrorAlert, Loading } from '../../components/status.tsx';
import { api, query } from '../../lib/api.ts';
import type { Page, ProductListItem } from '../../lib/types.ts';

const PAGE_SIZE = 24;

export type Sort = 'relevance' | 'newest' | 'price_asc' | 'price_desc';

const SORT_LABELS: Record<Sort, string> = {
  relevance: 'Best match',
  newest: 'Newest',
  price_asc: 'Price: low to high',
  price_desc: 'Price: high to low',
};

export function SortSelect({
  value,
  onChange,
  options,
}: {
  value: Sort;
  onChange(sort: Sort): void;
  options: Sort[];
}) {
  const id = useId();
  return (
    <div className="sort">
      <label htmlFor={id}>Sort</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as Sort)}>
        {options.map((s) => (
          <option key={s} value={s}>
            {SORT_LABELS[s]}
          </option>
        ))}
      </select>
    </div>
  );
}

type ListState = { items: ProductListItem[]; next: string | null; loading: boolean; error: unknown };

export function useProductList(params: { category?: string; q?: string; sort: Sort } | null) {
  const key = params
    ? query({ category: params.category, q: params.q, sort: params.sort, limit: PAGE_SIZE })
    : null;
  const [state, setState] = useState<ListState>({
    items: [],
    next: null,
    loading: key !== null,
    error: null,
  });

  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    setState({ items: [], next: null, loading: true, error: null });
    api<Page<ProductListItem>>(`/api/products${key}`, { signal: controller.signal })
      .then((page) => setState({ items: page.items, next: page.nextCursor, loading: false, error: null }))
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setState({ items: [], next: null, loading: false, error });
      });
    return () => controller.abort();
  }, [key]);

  const loadMore = async () => {
    if (!state.next || state.loading || key === null) return;
    const cursor = state.next;
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await api<Page<ProductListItem>>(
        `/api/products${key}&cursor=${encodeURIComponent(cursor)}`,
      );
      setState((s) => ({
        items: [...s.items, ...page.items],
        next: page.nextCursor,
        loading: false,
        error: null,
      }));
    } catch (error) {
      setState((s) => ({ ...s, loading: false, error }));
    }
  };

  return { ...state, loadMore };
}

export function ProductListView({
  list,
  label,
  empty,
}: {
  list: ReturnType<typeof useProductList>;
  label: string;
  empty: React.ReactNode;
}) {
  const first = list.loading && list.items.length === 0;
  return (
    <>
      {list.items.length > 0 && <ProductGrid products={list.items} label={label} />}
      {first && <Loading />}
      {!list.loading && !list.error && list.items.length === 0 && empty}
      <ErrorAlert error={list.error} />
      {list.next && list.items.length > 0 && (
        <div className="load-more">
          <button type="button" className="button" onClick={list.loadMore} disabled={list.loading}>
            {list.loading ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </>
  );
}
