import { useState } from 'react';
import { useSearchParam } from '../../app/router.tsx';
import { Empty } from '../../components/status.tsx';
import { ProductListView, type Sort, SortSelect, useProductList } from './product-list.tsx';

export function SearchPage() {
  const q = useSearchParam('q').trim();
  const [sort, setSort] = useState<Sort>('relevance');
  const list = useProductList(q ? { q, sort } : null);

  return (
    <div className="page">
      <div className="section-head">
        <h1>{q ? `Results for “${q}”` : 'Search'}</h1>
        {q && (
          <SortSelect
            value={sort}
            onChange={setSort}
            options={['relevance', 'newest', 'price_asc', 'price_desc']}
          />
        )}
      </div>
      {q ? (
        <ProductListView
          list={list}
          label="Search results"
          empty={
            <Empty>
              <p>No products match “{q}”.</p>
              <p>Try fewer or different words.</p>
            </Empty>
          }
        />
      ) : (
        <Empty>Type in the search box above to find products.</Empty>
      )}
    </div>
  );
}
