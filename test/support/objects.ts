/**
 * Objects backends for tests: a local store with the app's object routes on a real listening
 * Fastify server (uploads and media through HTTP), and an S3-compatible server (s3rver on
 * 127.0.0.1, an ephemeral port and a temporary directory; a fresh bucket per store).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import type { ApiApp } from '../../src/http/api-app.ts';
import { type ObjectRoutesOptions, registerObjectRoutes } from '../../src/http/media-serving.ts';
import { sendProblem } from '../../src/http/problem.ts';
import { createLocalObjects } from '../../src/platform/objects/local/local-objects.ts';
import { createUploadTokens, type UploadTokens } from '../../src/platform/objects/local/upload-tokens.ts';
import type { ObjectStore } from '../../src/platform/objects/objects.ts';
import { createS3Client, createS3Objects } from '../../src/platform/objects/s3/s3-objects.ts';

export type LocalObjectsApp = Readonly<{
  objects: ObjectStore;
  tokens: UploadTokens;
  dir: string;
  app: ApiApp;
  origin: string;
  close(): Promise<void>;
}>;

/** A local store under a temporary directory and an app serving its routes on 127.0.0.1. */
export async function startLocalObjectsApp(
  options: { mediaBaseUrl?: string; onUploaded?: ObjectRoutesOptions['onUploaded']; now?: () => number } = {},
): Promise<LocalObjectsApp> {
  const root = await mkdtemp(join(tmpdir(), 'bazaar-objects-'));
  const dir = join(root, 'objects');
  const tokens = createUploadTokens({
    secret: randomBytes(32),
    ...(options.now ? { now: options.now } : {}),
  });
  const objects = createLocalObjects({
    dir,
    tokens,
    mediaBaseUrl: options.mediaBaseUrl ?? '/media',
    ...(options.now ? { now: options.now } : {}),
  });
  const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiApp;
  app.removeContentTypeParser(['text/plain']); // JSON-only, as in buildApp
  app.setErrorHandler((error, _request, reply) => sendProblem(reply, error));
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('application/problem+json').send({}));
  app.post('/api/echo', async (request) => request.body);
  await registerObjectRoutes(app, { objects, uploadTokens: tokens, onUploaded: options.onUploaded });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    objects,
    tokens,
    dir,
    app,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

type S3rverInstance = { run(): Promise<{ port: number }>; close(): Promise<void> };
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

export type S3Server = Readonly<{
  endpoint: string;
  client: S3Client;
  /** A new empty bucket and an S3 store on it. */
  store(options: {
    mediaBaseUrl: string;
    uploadMethod: 'post' | 'put';
  }): Promise<{ objects: ObjectStore; bucket: string }>;
  close(): Promise<void>;
}>;

let buckets = 0;

export async function startS3Server(): Promise<S3Server> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const directory = await mkdtemp(join(tmpdir(), 'bazaar-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's built-in account; it checks the key id, not V4 signatures.
  const client = createS3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  });
  return {
    endpoint,
    client,
    async store({ mediaBaseUrl, uploadMethod }) {
      const bucket = `bazaar-test-${process.pid}-${++buckets}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return { objects: createS3Objects({ client, bucket, mediaBaseUrl, uploadMethod }), bucket };
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
