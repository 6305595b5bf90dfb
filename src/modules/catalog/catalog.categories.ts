/**
 * The category rows this process holds for the category lookup of listings, so that a listing by
 * category costs no statement for it under any cache setting (categories change only by
 * migration). The rows are loaded at the first lookup and replaced by every fresh read of the
 * whole tree (the tree route reads it through the cache when there is one, so an invalidation of
 * the cache's `categories` entry reaches them at the next tree read). A lookup that finds nothing
 * asks the database: a category added since is then found (and held), an unknown one is not.
 */
import type { Category } from './catalog.repo.ts';

export type CategoryDirectory = Readonly<{
  /** The category with this id (lower case) or slug; undefined when the database has none either. */
  find(by: Readonly<{ id: string }> | Readonly<{ slug: string }>): Promise<Category | undefined>;
  /** Holds `rows` (every category, as just read for the tree) instead of what was held. */
  hold(rows: readonly Category[]): void;
}>;

export function createCategoryDirectory(
  deps: Readonly<{
    /** Every category row. */
    loadAll: () => Promise<readonly Category[]>;
    /** One category from the database, for a lookup the held rows cannot answer. */
    findOne: (by: Readonly<{ id: string }> | Readonly<{ slug: string }>) => Promise<Category | undefined>;
  }>,
): CategoryDirectory {
  type Held = { rows: readonly Category[]; byId: Map<string, Category>; bySlug: Map<string, Category> };
  let held: Held | undefined;
  let loading: Promise<Held> | undefined;
  const index = (rows: readonly Category[]): Held => ({
    rows,
    byId: new Map(rows.map((c) => [c.id, c])),
    bySlug: new Map(rows.map((c) => [c.slug, c])),
  });
  const load = (): Promise<Held> =>
    (loading ??= deps
      .loadAll()
      .then((rows) => (held ??= index(rows)))
      .finally(() => {
        loading = undefined;
      }));

  return {
    async find(by) {
      const rows = held ?? (await load());
      const known = 'id' in by ? rows.byId.get(by.id) : rows.bySlug.get(by.slug);
      if (known) return known;
      const found = await deps.findOne(by);
      if (found && held) {
        held.byId.set(found.id, found);
        held.bySlug.set(found.slug, found);
      }
      return found;
    },
    hold(rows) {
      if (held?.rows !== rows) held = index(rows);
    },
  };
}
