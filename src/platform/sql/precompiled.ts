/**
 * Queries compiled once and run many times with new parameter values, for hot paths where
 * building and compiling the Kysely query per call is a measurable share of the request
 * (bench/api.bench.ts). Compiled per Kysely instance, so `read` and `write` handles each get
 * their own. On PostgreSQL (without a transaction pooler) the text also goes as a named prepared
 * statement (prepared-statements.ts).
 */
import { type Compilable, type CompiledQuery, createQueryId, type Kysely } from 'kysely';
import { registerPrepared } from './prepared-statements.ts';

/** One fixed query: `build` receives placeholder values; the returned function takes the real ones in the same order. */
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

export type ShapedQueryOptions<S> = Readonly<{
  /** The shape's key: equal keys for shapes that build the same SQL text. */
  keyOf: (shape: S) => string;
  /**
   * Whether a shape is prepared by name (default: every one). A named statement may be planned
   * once for any values (a generic plan); leave out shapes whose best plan depends on a value.
   */
  prepare?: (shape: S) => boolean;
}>;

/**
 * A query whose clauses vary with a `shape` (which filters, which order) and whose values are
 * parameters: each shape is built and compiled once per Kysely instance, `build` receiving a
 * stand-in for every value, and then runs with the values given. Every parameter of the compiled
 * text must be one of those stand-ins; a value written into the text (`sql.lit`) belongs to the
 * shape. Throws at the first compile of a shape otherwise, and on a run without a value the
 * shape uses.
 */
export function precompiledByShape<DB, S, V extends Readonly<Record<string, unknown>>, R>(
  build: (db: Kysely<DB>, shape: S, values: V) => Compilable<R>,
  options: ShapedQueryOptions<S>,
): (db: Kysely<DB>, shape: S, values: V) => Promise<R[]> {
  type Compiled = Readonly<{ query: CompiledQuery<R>; order: readonly (keyof V)[] }>;
  const cache = new WeakMap<Kysely<DB>, Map<string, Compiled>>();
  const compile = (db: Kysely<DB>, shape: S, key: string): Compiled => {
    const standIns = new Map<unknown, string>();
    const values = new Proxy({} as V, {
      get(_target, name) {
        if (typeof name !== 'string') return undefined;
        const standIn = Object.freeze({ standInFor: name });
        standIns.set(standIn, name);
        return standIn;
      },
    });
    const query = build(db, shape, values).compile();
    const order = query.parameters.map((p, n) => {
      const name = standIns.get(p);
      if (name === undefined) {
        throw new Error(`query shape ${key}: parameter $${n + 1} is not one of the values (a constant?)`);
      }
      return name as keyof V;
    });
    if (options.prepare?.(shape) ?? true) registerPrepared(query.sql);
    return { query, order };
  };
  return async (db, shape, values) => {
    let shapes = cache.get(db);
    if (!shapes) {
      shapes = new Map();
      cache.set(db, shapes);
    }
    const key = options.keyOf(shape);
    let compiled = shapes.get(key);
    if (!compiled) {
      compiled = compile(db, shape, key);
      shapes.set(key, compiled);
    }
    const parameters = compiled.order.map((name) => {
      const value = values[name];
      if (value === undefined) throw new Error(`query shape ${key}: no value for ${String(name)}`);
      return value;
    });
    const result = await db.executeQuery<R>({ ...compiled.query, parameters, queryId: createQueryId() });
    return result.rows;
  };
}
