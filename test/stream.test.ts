import { createSqlStream } from '../src/platform/stream/sql/sql-stream.ts';
import { streamContract } from '../src/platform/stream/stream.contract.ts';
import { BACKENDS, openPlatformSql } from './support/engines.ts';

for (const backend of BACKENDS) {
  streamContract({
    name: `sql on ${backend.name}`,
    skip: backend.skip,
    async setup(now) {
      const { port, teardown } = await openPlatformSql(backend);
      return { stream: createSqlStream(port, { now }), teardown };
    },
  });
}
