/**
 * `npm run bench:report`: renders docs/benchmarks.md from the latest result of each bench in
 * bench/results/ (written by writeResult in support.ts): what the bench measures, what it proves
 * and what it cannot, then the command, the machine and its load, the commit, and the tables as
 * the bench printed them. Results in an older format (without `bench` and `tables`) are skipped
 * and listed.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support.ts';

type Result = {
  bench: string;
  at: string;
  command: string;
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    loadAverage: { start: number[]; end: number[] };
    node: string;
  };
  commit: string;
  tables: { headers: string[]; rows: string[][] }[];
};

/** Per bench: a title, what it measures, what it proves and what it cannot. */
const ABOUT: Record<string, { title: string; text: string }> = {
  api: {
    title: 'HTTP API against bare baselines (`npm run bench:api`)',
    text:
      "The catalog's three reads (product page, category listing, search), with and without the cache, each " +
      'measured in the same round as a bare Fastify JSON route and a bare route running the same SQL ' +
      "(the app's own statements, prepared). It shows what the application adds per request on top of its " +
      "database work, in req/s and in Node CPU per request; it cannot show a deployment's capacity, and " +
      'absolute req/s on a shared two-core machine drift by a third within minutes: read the ratios and ' +
      'their per-round spread.',
  },
  cache: {
    title: 'Cache tier in the local fleet (`npm run bench:cache`)',
    text:
      'The scale topology of `bazaar stack up` (HAProxy, two web processes, a worker, Redis, PostgreSQL) ' +
      'under a Zipf mix of product pages, listings and searches: cache hit ratio, database queries per ' +
      'request, Redis reads per response, and cached product detail against a bare Fastify route. It proves ' +
      'that warm reads are served without the database; it cannot measure the capacity of separate ' +
      'machines, since every process here shares the same two cores.',
  },
  media: {
    title: 'Photo pipeline (`npm run bench:media`)',
    text:
      "The image job's whole path (relay, dequeue, fetch, six variants, store, record) and its resizing " +
      'alone, against bare sharp doing the same resizes. It proves the pipeline adds little to the image ' +
      'work itself; its peak memory includes the embedded database and the job queue, and it says nothing ' +
      'about object-store or CDN latency.',
  },
  startup: {
    title: 'Start-up and idle memory (`npm run bench:startup`)',
    text:
      'Spawn to the first `/readyz` 200, and resident memory once idle, for the web process on PostgreSQL ' +
      'and embedded on PGlite, each set against a bare Fastify + pg process started in the same round. ' +
      'It shows what loading the application costs before it serves; it does not include building the ' +
      'web UI (SERVE_WEB=false) nor memory under load. The web sides start as `npm start` does (bin/web.js, ' +
      "Node's compile cache on); the first start, with an empty cache as after an install, is printed and " +
      'kept in the result, not in the table.',
  },
  memory: {
    title: 'Memory idle and under load (`npm run bench:memory`)',
    text:
      'Resident memory of the web process on PostgreSQL and embedded on PGlite: 2 s after readiness, the ' +
      'peak of start-up, and the highest RSS sampled during a read mix (product pages, listings, searches; ' +
      'the default cache on), each set against a bare Fastify + pg process loaded with `select 1` in the same ' +
      'round, every side started afresh each round. It shows what the application and its embedded database ' +
      "hold; it sends no writes, runs no jobs under load and does not build the web UI, so a shop's busiest " +
      'moments (photo processing, checkout) can reach higher.',
  },
  search: {
    title: 'Search at catalog scale (`npm run bench:search`)',
    text:
      'Full-text search over 100,000 seeded products (`BENCH_PRODUCTS=400000` for more), by query class ' +
      '(broad, narrow and multi-word queries, prefixes, one- and two-letter last words, no match), at 8 ' +
      'connections with the cache off, next to the same SQL run bare; and, per class, the largest execution ' +
      'time and shared buffers of one query run alone. It shows whether every class keeps its p99 under the ' +
      'target and how the work of a query grows with the catalog (compare the buffers at two sizes); the ' +
      "seeded vocabulary is small and regular, so it cannot show a real shop's mix of words, and latencies " +
      'on a shared two-core machine move with its load.',
  },
  replicas: {
    title: 'Read replicas and read-your-writes (`npm run bench:replicas`)',
    text:
      '95% catalog reads and 5% seller edits with the cache off, on a primary alone and on a primary with ' +
      "two streaming replicas. It proves the stage's claim: the primary serves only the reads of clients " +
      'that just wrote. It cannot show added capacity: on one machine the replicas share the cores with the ' +
      'primary (and replay every write); capacity from replicas needs them on their own machines.',
  },
};

export function renderReport(results: readonly Result[], skipped: readonly string[]): string {
  const latest = new Map<string, Result>();
  for (const r of results) {
    const seen = latest.get(r.bench);
    if (!seen || seen.at < r.at) latest.set(r.bench, r);
  }
  const lines = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench:report` from the latest result of each bench in `bench/results/`; do not',
    'edit by hand. Each bench prints its tables and writes a JSON result with the command, the machine,',
    'its load average and the commit measured. Ratios are to a baseline measured in the same run.',
    '',
  ];
  const order = [...Object.keys(ABOUT), ...[...latest.keys()].filter((k) => !(k in ABOUT)).sort()];
  for (const name of order) {
    const about = ABOUT[name] ?? { title: `\`npm run bench:${name}\``, text: '' };
    lines.push(`## ${about.title}`, '');
    if (about.text) lines.push(about.text, '');
    const r = latest.get(name);
    if (!r) {
      lines.push('_No result yet: run the bench, then `npm run bench:report`._', '');
      continue;
    }
    const m = r.machine;
    lines.push(
      `- Command: \`${r.command}\``,
      `- When: ${r.at.replace('T', ' ').slice(0, 16)} UTC, commit \`${r.commit}\``,
      `- Machine: ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}; load average ` +
        `${m.loadAverage.start.join(' / ')} at the start, ${m.loadAverage.end.join(' / ')} at the end (1 / 5 / 15 min)`,
      '',
    );
    for (const t of r.tables) {
      lines.push(`| ${t.headers.join(' | ')} |`, `|${t.headers.map(() => '---').join('|')}|`);
      for (const row of t.rows) lines.push(`| ${row.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`);
      lines.push('');
    }
  }
  if (skipped.length > 0) {
    lines.push(`Results in an older format, not rendered: ${skipped.map((s) => `\`${s}\``).join(', ')}.`, '');
  }
  return lines.join('\n');
}

function main(): void {
  const dir = join(ROOT, 'bench', 'results');
  const files = (() => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
  })();
  const results: Result[] = [];
  const skipped: string[] = [];
  for (const f of files) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Partial<Result>;
    if (typeof r.bench === 'string' && Array.isArray(r.tables) && r.machine) results.push(r as Result);
    else skipped.push(f);
  }
  const out = join(ROOT, 'docs', 'benchmarks.md');
  writeFileSync(out, renderReport(results, skipped));
  console.log(
    `wrote ${out} from ${results.length} result(s)${skipped.length ? `, skipped ${skipped.length}` : ''}`,
  );
}

if (import.meta.main) main();
