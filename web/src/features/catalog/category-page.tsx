import { useState } from 'react';
import { Link } from '../../app/router.tsx';
import { flatCategories, useSession } from '../../app/session.tsx';
import { Empty } from '../../components/status.tsx';
import { ProductListView, type Sort, SortSelect, useProductList } from './product-list.tsx';

export function CategoryPage({ params }: { params: Record<string, string> }) {
  const slugOrId = params['category'] ?? '';
  const { categories } = useSession();
  const [sort, setSort] = useState<Sort>('newest');
  const list = useProductList({ category: slugOrId, sort });
  const all = flatCategories(categories);
  const category = all.find((c) => c.slug === slugOrId || c.id === slugOrId);
  const parent = categories?.find((c) => c.children.some((child) => child.id === category?.id));
  const children = categories?.find((c) => c.id === category?.id)?.children ?? [];
  const name = category?.name ?? (categories ? 'Category' : '');

  return (
    <div className="page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/">Home</Link>
        {parent && (
          <>
            {' / '}
            <Link to={`/c/${parent.slug}`}>{parent.name}</Link>
          </>
        )}
      </nav>
      <div className="section-head">
        <h1>{name}</h1>
        <SortSelect value={sort} onChange={setSort} options={['newest', 'price_asc', 'price_desc']} />
      </div>
      {children.length > 0 && (
        <ul className="chips" aria-label="Subcategories">
          {children.map((c) => (
            <li key={c.id}>
              <Link to={`/c/${c.slug}`} className="chip">
                {c.name}
              </Link>
            </li>
          ))}
        </ul>
      )}
      <ProductListView
        list={list}
        label={`${name} products`}
        empty={<Empty>No products in this category yet.</Empty>}
      />
    </div>
  );
}
