import type { ReactNode } from 'react';
import { errorMessage } from '../lib/api.ts';

/** The loading state every page shows while it waits: role="status", "Loading…". */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p role="status" className="loading">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** An error from the API (its problem detail) or any other failure, as a sentence, role="alert". */
export function ErrorAlert({ error, children }: { error?: unknown; children?: ReactNode }) {
  if (!error && !children) return null;
  return (
    <div role="alert" className="alert">
      {children ?? errorMessage(error)}
    </div>
  );
}

/** A polite confirmation ("Added to cart"). */
export function Notice({ children }: { children: ReactNode }) {
  return (
    <p role="status" className="notice">
      {children}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}
