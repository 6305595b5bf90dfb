/**
 * The API client: every call of the SPA goes through `api()`. Requests carry the session cookie
 * (`credentials: 'include'`, so a SPA hosted on another origin works when the API lists it in
 * ALLOWED_ORIGINS); bodies are JSON. A non-2xx answer becomes an `ApiError` whose `message` is
 * the problem's `detail` made into a sentence, or a human fallback for the status.
 */

/** Base of the API: '' (same origin) or the origin given as API_BASE_URL at build time. */
export const API_BASE: string = (import.meta.env.VITE_API_BASE_URL ?? '').replace(/\/+$/, '');

/** A URL of the API (or of media it names with a path) as the browser must fetch it. */
export function apiUrl(path: string): string {
  return path.startsWith('/') ? API_BASE + path : path;
}

export type Problem = {
  status: number;
  code?: string;
  detail?: string;
  title?: string;
  [extension: string]: unknown;
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | undefined;
  constructor(status: number, message: string, problem?: Problem) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem?.code ?? (status === 0 ? 'NETWORK' : `HTTP_${status}`);
    this.problem = problem;
  }
}

const FALLBACK: Record<number, string> = {
  0: 'We could not reach the shop. Check your connection and try again.',
  400: 'Something in the form is not right. Check it and try again.',
  401: 'Please log in first.',
  403: 'You are not allowed to do that.',
  404: 'We could not find that.',
  409: 'That clashed with another change. Reload and try again.',
  413: 'That is too large.',
  415: 'That kind of file or request is not accepted.',
  422: 'That could not be done as asked.',
  429: 'Too many tries in a short time. Wait a moment and try again.',
  500: 'Something went wrong on our side. Try again in a moment.',
  503: 'The shop is busy or restarting. Try again in a moment.',
};

export function fallbackMessage(status: number): string {
  return FALLBACK[status] ?? (status >= 500 ? FALLBACK[500]! : 'That did not work. Try again.');
}

/** "not enough stock for x" → "Not enough stock for x." */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return sentence(err.message);
  return fallbackMessage(500);
}

type Options = {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
};

export async function api<T>(path: string, options: Options = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (method !== 'GET') {
    // The API takes JSON only; even a body-less POST sends {} so its content type is JSON.
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body ?? {});
  }
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      credentials: 'include',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, fallbackMessage(0));
  }
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  const data: unknown = type.includes('json') ? await response.json().catch(() => undefined) : undefined;
  if (!response.ok) {
    const problem = (data && typeof data === 'object' ? data : undefined) as Problem | undefined;
    const detail = typeof problem?.detail === 'string' && response.status < 500 ? problem.detail : '';
    throw new ApiError(
      response.status,
      detail ? sentence(detail) : fallbackMessage(response.status),
      problem ? { ...problem, status: response.status } : undefined,
    );
  }
  return data as T;
}

/** Query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
