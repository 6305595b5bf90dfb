/**
 * Writes the API's OpenAPI document (what `/openapi.json` serves) to a file or stdout, built from
 * an in-process app on embedded defaults: no server, database or network needed.
 * Usage: node scripts/openapi.ts [out.json]
 */
import { writeFile } from 'node:fs/promises';
import pino from 'pino';
import { MODULES } from '../src/apps/modules.ts';
import { loadConfig } from '../src/config/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createPlatform } from '../src/platform/platform.ts';

/** The document of an app on default settings (embedded database in memory, nothing persisted). */
export async function openApiDocument(): Promise<unknown> {
  const config = loadConfig({ LOG_LEVEL: 'silent', SEED: 'false' });
  const platform = await createPlatform(config, { inMemory: true, processName: 'openapi' });
  try {
    const { app } = await buildApp({ config, platform, modules: MODULES, logger: pino({ level: 'silent' }) });
    await app.ready();
    const res = await app.inject({ url: '/openapi.json' });
    await app.close();
    return res.json();
  } finally {
    await platform.close();
  }
}

if (import.meta.main) {
  const text = `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
  const out = process.argv[2];
  if (out) await writeFile(out, text);
  else process.stdout.write(text);
}
