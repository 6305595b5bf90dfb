/**
 * `bazaar jobs …`: inspect background jobs and retry failed ones. Parsing and printing live here,
 * apart from cli.ts, so tests run exactly what the command runs.
 */
import { parseArgs } from 'node:util';
import { JOB_STATES, type Job, type JobState, type JobsPort } from '../platform/jobs/jobs.ts';

export const JOBS_USAGE =
  'bazaar jobs list [--state STATE] [--queue QUEUE] [--limit N] [--json]\n' +
  '       bazaar jobs failed [--queue QUEUE] [--limit N] [--json]\n' +
  '       bazaar jobs retry <id> [--json]\n\n' +
  '  list    jobs, newest first (default limit 50)\n' +
  `          --state one of ${JOB_STATES.join(', ')}\n` +
  '  failed  jobs that used up their retries (the dead letters), newest first\n' +
  '  retry   sends one failed job back for another run\n' +
  '  --json  prints JSON instead of a table';

export class JobsUsageError extends Error {}

export type JobsRequest =
  | Readonly<{ action: 'list'; state?: JobState; queue?: string; limit: number; json: boolean }>
  | Readonly<{ action: 'retry'; id: string; json: boolean }>;

/** Parses the arguments after `jobs`; throws JobsUsageError with one sentence when they are wrong. */
export function parseJobsArgs(args: readonly string[]): JobsRequest {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      state: { type: 'string' },
      queue: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const json = values.json ?? false;
  const limit = parseLimit(values.limit);
  switch (action) {
    case 'list':
    case 'failed': {
      if (positionals.length > 0) throw new JobsUsageError(`unexpected argument "${positionals[0]}"`);
      if (action === 'failed' && values.state !== undefined) {
        throw new JobsUsageError('jobs failed takes no --state; use jobs list --state');
      }
      const state = action === 'failed' ? 'failed' : parseState(values.state);
      return {
        action: 'list',
        ...(state ? { state } : {}),
        ...(values.queue ? { queue: values.queue } : {}),
        limit,
        json,
      };
    }
    case 'retry': {
      if (positionals.length !== 1) throw new JobsUsageError('jobs retry takes exactly one job id');
      return { action: 'retry', id: positionals[0]!, json };
    }
    case undefined:
      throw new JobsUsageError('say what to do: list, failed or retry');
    default:
      throw new JobsUsageError(`unknown jobs command "${action}"; use list, failed or retry`);
  }
}

/** Runs a parsed request; prints through `print`. Errors (unknown id, not failed) are AppErrors. */
export async function runJobsRequest(
  jobs: JobsPort,
  request: JobsRequest,
  print: (text: string) => void,
): Promise<void> {
  if (request.action === 'retry') {
    const job = await jobs.retry(request.id);
    print(request.json ? JSON.stringify(job, null, 2) : `job ${job.id} (${job.queue}) will run again`);
    return;
  }
  const list = await jobs.list({
    limit: request.limit,
    ...(request.state ? { state: request.state } : {}),
    ...(request.queue ? { queue: request.queue } : {}),
  });
  if (request.json) {
    print(JSON.stringify(list, null, 2));
    return;
  }
  if (list.length === 0) {
    print(request.state ? `no ${request.state} jobs` : 'no jobs');
    return;
  }
  print(jobsTable(list));
  if (request.state === 'failed') {
    print(`\n${list.length} failed job(s). Retry one with: bazaar jobs retry <id>`);
  }
}

/** A plain-text table, one job a line. */
export function jobsTable(jobs: readonly Job[]): string {
  const rows = jobs.map((j) => [
    j.id,
    j.queue,
    j.state,
    `${j.attempts}/${j.retryLimit + 1}`,
    time(j.createdAt),
    j.state === 'retry' ? time(j.runAfter) : '',
    oneLine(j.error ?? ''),
  ]);
  const header = ['ID', 'QUEUE', 'STATE', 'RUNS', 'CREATED', 'NEXT RUN', 'LAST ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 10_000) {
    throw new JobsUsageError(`--limit must be a whole number from 1 to 10000, not "${raw}"`);
  }
  return Number(raw);
}

function parseState(raw: string | undefined): JobState | undefined {
  if (raw === undefined) return undefined;
  if (!(JOB_STATES as readonly string[]).includes(raw)) {
    throw new JobsUsageError(`--state must be one of ${JOB_STATES.join(', ')}, not "${raw}"`);
  }
  return raw as JobState;
}

const time = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}
