/**
 * /openapi.json is a contract a client can be generated from: types are generated from the live
 * document (openapi-typescript), a buyer's journey written against them with openapi-fetch
 * (test/fixtures/openapi-client/buyer-journey.ts) is type-checked by the project's tsc, then run
 * over HTTP against the app listening on an ephemeral port.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import openapiTS from 'openapi-typescript';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const root = join(import.meta.dirname, '..');
const journeyFile = join(import.meta.dirname, 'fixtures/openapi-client/buyer-journey.ts');

/** Generates `bazaar-api` from `doc` into `dir` and type-checks the journey against it; returns tsc's output. */
async function typeCheckJourney(
  dir: string,
  doc: unknown,
  journey = journeyFile,
): Promise<{ ok: boolean; output: string }> {
  await writeFile(join(dir, 'api.d.ts'), await openapiTS(doc as Parameters<typeof openapiTS>[0]));
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: {
        typeRoots: [join(root, 'node_modules/@types')],
        paths: { 'bazaar-api': ['./api.d.ts'] },
      },
      include: [],
      files: [journey],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    encoding: 'utf8',
  });
  return { ok: tsc.status === 0, output: `${tsc.stdout}${tsc.stderr}` };
}

for (const backend of BACKENDS) {
  describe(`a client generated from /openapi.json on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let dir: string;
    before(async () => {
      t = await startTestApp(backend);
      dir = await mkdtemp(join(tmpdir(), 'bazaar-client-'));
    });
    after(async () => {
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('when types are generated from the live document, then the buyer journey type-checks against them', async () => {
      const doc = (await t.app.inject({ url: '/openapi.json' })).json();
      const { ok, output } = await typeCheckJourney(dir, doc);
      assert.ok(ok, output);
    });

    it('when the document loses what the journey relies on, then the same check fails', async () => {
      const doc = (await t.app.inject({ url: '/openapi.json' })).json();
      delete doc.paths['/api/orders'].post;
      const { ok, output } = await typeCheckJourney(dir, doc);
      assert.equal(ok, false);
      assert.match(output, /buyer-journey\.ts/);
    });

    it('when the journey runs with the generated client over HTTP, then the buyer gets their order', async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const address = t.app.server.address();
      assert.ok(address && typeof address === 'object');
      // By URL, so that the project's own type-check leaves the fixture (and `bazaar-api`) alone.
      const { buyerJourney } = (await import(pathToFileURL(journeyFile).href)) as {
        buyerJourney(
          baseUrl: string,
          tag: string,
        ): Promise<{ status: string; totalMinor: number; ordersListed: number }>;
      };
      const result = await buyerJourney(`http://127.0.0.1:${address.port}`, `${backend.name}-${process.pid}`);
      assert.equal(result.status, 'placed');
      assert.equal(result.totalMinor, 5000);
      assert.equal(result.ordersListed, 1);
    });
  });
}
