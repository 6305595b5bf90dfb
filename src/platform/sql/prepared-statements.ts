/**
 * The texts of queries worth preparing by name on PostgreSQL: `precompiled` registers each query
 * it builds once; the PostgreSQL adapter's clients (postgres/preparing-client.ts) send a registered
 * text as a named statement, parsed and planned once per connection instead of once per query.
 * Adapters that do not prepare (PGlite, PostgreSQL behind PgBouncer in transaction mode) ignore it.
 */
const names = new Map<string, string>();

/** Marks `sql` (a compiled query's text, with $n placeholders) to be prepared by name. */
export function registerPrepared(sql: string): void {
  if (!names.has(sql)) names.set(sql, `bazaar_${names.size + 1}`);
}

/** The statement name of a registered text, else undefined. */
export const preparedName = (sql: string): string | undefined => names.get(sql);
