/**
 * A `pg` client (the adapter's pools' `Client`) that sends the texts registered in
 * ../prepared-statements.ts as named statements, so the server parses and plans them once per
 * connection (the product page's lookup among them); every other query goes unnamed, as before.
 * Not used behind PgBouncer in transaction mode, where a statement prepared on one server
 * connection is unknown on the next.
 *
 * A statement lives as long as its connection: a migration that retypes or drops a column a
 * prepared statement returns makes that statement fail once per connection ("cached plan must
 * not change result type"); such migrations are deployed with a restart of the web tier anyway.
 */
import pg from 'pg';
import { preparedName } from '../prepared-statements.ts';

export class PreparingClient extends pg.Client {
  // pg's overloads, loosened to forward them: Kysely calls `query(text, values)`.
  // biome-ignore lint/suspicious/noExplicitAny: forwards pg's overloaded query unchanged
  override query(...args: any[]): any {
    const [text, values] = args;
    if (args.length === 2 && typeof text === 'string' && Array.isArray(values)) {
      const name = preparedName(text);
      if (name !== undefined) return super.query({ name, text, values });
    }
    return (super.query as (...a: unknown[]) => unknown)(...args);
  }
}
