/**
 * The contract between a business module and the entry points (src/apps/): what a module gives
 * the web process (routes, sign-in and upload hooks) and the worker (event consumers, periodic
 * tasks), and what each receives. Modules and apps share it without the HTTP layer; only the
 * `routes` member names the HTTP app's type, and only a module's `*.routes.ts` files implement it.
 */
import type { Config } from '../config/config.ts';
import type { ApiApp } from '../http/api-app.ts';
import type { Consumer } from '../platform/events/events.ts';
import type { Platform } from '../platform/platform.ts';
import type { Session } from '../platform/sessions/sessions.ts';
import type { MigrationSet } from '../platform/sql/sql.ts';

/** What a business module gives the processes that run it. */
export type WebModule = Readonly<{
  name: string;
  migrations: MigrationSet;
  routes?: (app: ApiApp, deps: ModuleDeps) => void | Promise<void>;
  /** The module's event consumers; the worker subscribes them (docs/architecture.md, Events and jobs). */
  consumers?: (deps: ModuleDeps) => readonly Consumer[];
  /** Work the worker repeats on a timer (roll-ups, clean-ups); must be safe in several workers at once. */
  tasks?: (deps: TaskDeps) => readonly PeriodicTask[];
  /** Reacts to the object-created signal of an upload (the local store's `/uploads` route); a failure fails the upload. */
  onObjectCreated?: (deps: ModuleDeps) => (key: string) => Promise<void>;
  /** Runs in the request that signs a visitor in or up, before its answer (the cart merges the anonymous cart). */
  onSignIn?: (deps: ModuleDeps) => SignInStep;
}>;

export type ModuleDeps = Readonly<{ config: Config; platform: Platform }>;

/** A module's periodic tasks also get the worker's log, for a line about what a run did. */
export type TaskDeps = ModuleDeps &
  Readonly<{ log: { info(fields: object, msg: string): void; error(fields: object, msg: string): void } }>;

/** A task the worker runs every `everyMs`, never overlapping itself; a failure is logged and retried next time. */
export type PeriodicTask = Readonly<{ name: string; everyMs: number; run(): Promise<unknown> }>;

/** What a module does when a session is signed in (WebModule.onSignIn): merge what it kept for the visitor. */
export type SignInStep = (session: Session) => Promise<void>;
