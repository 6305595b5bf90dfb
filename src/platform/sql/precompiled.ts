/**
 * A query compiled once and run many times with new parameter values, for hot paths where
 * building and compiling the Kysely query per call is a measurable share of the request
 * (bench/api.bench.ts). `build` receives placeholder values; `run` takes the real ones in the
 * same order. Compiled per Kysely instance, so `read` and `write` handles each get their own.
 * On PostgreSQL (without a transaction pooler) the text also goes as a named prepared statement
 * (prepared-statements.ts).
 */
import { type Compilable, type CompiledQuery, createQueryId, type Kysely } from 'kysely';
import { registerPrepared } from './prepared-statements.ts';

export function precompiled<DB, P extends unknown[], R>(
  build: (db: Kysely<DB>, ...placeholders: P) => Compilable<R>,
  placeholders: P,
): (db: Kysely<DB>, ...params: P) => Promise<R[]> {
  const cache = new WeakMap<Kysely<DB>, CompiledQuery<R>>();
  return async (db, ...params) => {
    let compiled = cache.get(db);
    if (!compiled) {
      compiled = build(db, ...placeholders).compile();
      if (compiled.parameters.length !== params.length) {
        throw new Error(
          `precompiled query takes ${compiled.parameters.length} parameters, got ${params.length}`,
        );
      }
      cache.set(db, compiled);
      registerPrepared(compiled.sql);
    }
    const result = await db.executeQuery<R>({ ...compiled, parameters: params, queryId: createQueryId() });
    return result.rows;
  };
}
