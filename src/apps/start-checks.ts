/**
 * What an entry point checks before any slow work, with nothing heavy imported: the
 * configuration (one line per bad setting, then exit 1) and, for the web process, its port.
 */
import { createServer, type Server } from 'node:net';
import { type Config, ConfigError, loadConfig } from '../config/config.ts';

export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bazaar: ${err.message}\nSee docs/configuration.md for every setting.\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Why `host:port` cannot be listened on, as one sentence for the operator. */
export function listenProblem(err: unknown, host: string, port: number): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return `port ${port} on ${host} is already in use (another Bazaar?); stop that process or set PORT to a free port, e.g. PORT=${port === 3000 ? 3001 : 3000} npm start`;
  if (code === 'EACCES')
    return `this user may not listen on port ${port}; set PORT to 1024 or higher, e.g. PORT=3000 npm start`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return `HOST=${host} is not an address of this machine; set HOST to one of its addresses, e.g. HOST=127.0.0.1 or HOST=0.0.0.0`;
  return `cannot listen on ${host}:${port} (${(err as Error)?.message ?? String(err)}); set PORT or HOST`;
}

/**
 * Takes the configured port at once, before migrations, seeding and the worker (tens of seconds
 * on a first start), so that a port in use ends the process with one sentence (exit 1) straight
 * away. `release()` frees it just before the app listens on it. PORT=0 (any free port): nothing
 * to hold.
 */
export async function holdPortOrExit(
  config: Pick<Config, 'host' | 'port'>,
): Promise<{ release(): Promise<void> }> {
  if (config.port === 0) return { release: async () => {} };
  // A client that connects meanwhile (a health check) is reset at once, as if nobody listened;
  // a connection kept open would also keep `close()` from finishing.
  const server: Server = createServer((socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.host, port: config.port, exclusive: true }, resolve);
    });
  } catch (err) {
    process.stderr.write(`bazaar: ${listenProblem(err, config.host, config.port)}\n`);
    process.exit(1);
  }
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
