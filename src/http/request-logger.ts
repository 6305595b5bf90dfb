/**
 * The per-request logger, made only when something is logged. Fastify gives every request a
 * child of the process logger carrying its request id; pino builds a child by serialising and
 * redacting its bindings, a few microseconds each time, for every request, even when the level
 * (LOG_LEVEL=warn in a fleet) means the request never logs a line. This logger holds the
 * bindings and creates the real child on the first line at an enabled level (or on `child`), so
 * that line still carries `requestId`.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions as ChildOptions, Logger } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
/** What this needs of the process logger: pino's level checks and bindings. */
type Parent = FastifyBaseLogger & Pick<Logger, 'isLevelEnabled' | 'bindings'>;

class LazyRequestLogger {
  readonly #parent: Parent;
  readonly #bindings: Bindings;
  readonly #options: ChildOptions;
  #made: Parent | undefined;

  constructor(parent: Parent, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get #real(): Parent {
    this.#made ??= this.#parent.child(this.#bindings, this.#options) as Parent;
    return this.#made;
  }

  #log(level: Level, args: unknown[]): void {
    if (!(this.#made ?? this.#parent).isLevelEnabled(level)) return;
    (this.#real[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return (this.#made ?? this.#parent).level;
  }
  set level(level: string) {
    this.#real.level = level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#made ?? this.#parent).isLevelEnabled(level);
  }
  bindings(): Bindings {
    return this.#made ? this.#made.bindings() : { ...this.#parent.bindings(), ...this.#bindings };
  }
  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#real.child(bindings, options);
  }
  fatal(...args: unknown[]): void {
    this.#log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#log('error', args);
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args);
  }
  info(...args: unknown[]): void {
    this.#log('info', args);
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args);
  }
  silent(): void {}
}

/** Fastify's `childLoggerFactory`: a lazy child, or the logger's own when a route sets its log level (or the logger is not pino). */
export function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildOptions,
): FastifyBaseLogger {
  const parent = logger as Partial<Parent>;
  if (options.level !== undefined || typeof parent.isLevelEnabled !== 'function') {
    return logger.child(bindings, options);
  }
  return new LazyRequestLogger(parent as Parent, bindings, options) as unknown as FastifyBaseLogger;
}
