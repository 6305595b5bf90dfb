/** A TCP relay to Redis that tests cut and restore, to take Redis away from one process only. */
import { createServer, type Server, Socket } from 'node:net';

/** A TCP relay to Redis that can be cut (listener closed, connections dropped) and restored on the same port. */
export function relay(target: URL) {
  let server: Server | undefined;
  const open = new Set<Socket>();
  let port = 0;
  return {
    url: () => `redis://127.0.0.1:${port}`,
    async start() {
      server = createServer((client) => {
        const upstream = new Socket();
        upstream.connect(Number(target.port || 6379), target.hostname);
        for (const s of [client, upstream]) {
          open.add(s);
          s.on('close', () => open.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    },
    async cut() {
      await new Promise<void>((resolve) => {
        server?.close(() => resolve());
        for (const s of open) s.destroy();
      });
    },
  };
}
