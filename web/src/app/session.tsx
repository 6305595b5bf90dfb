/**
 * Who is signed in and how many items the cart holds, for the header and the pages that need
 * them. `user` is undefined while the first /api/auth/session is in flight, null when anonymous
 * (which that endpoint answers with 200 `{user: null}`, not an error).
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, api } from '../lib/api.ts';
import type { Cart, Category, SignedIn, User } from '../lib/types.ts';

type Session = {
  user: User | null | undefined;
  setUser(user: User | null): void;
  cartCount: number;
  /** Fetch the cart again (after a change), updating the count; returns it. */
  refreshCart(): Promise<Cart | undefined>;
  categories: Category[] | undefined;
  /** The API could not check the sign-in (its session store is down); it is retried on its own. */
  signInPaused: boolean;
};

/** How long to wait before asking again whether the sign-in can be checked: 1 s, 2 s, … 30 s. */
const retryDelayMs = (attempt: number) => Math.min(30_000, 1000 * 2 ** attempt);

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [cartCount, setCartCount] = useState(0);
  const [categories, setCategories] = useState<Category[] | undefined>(undefined);
  const [signInPaused, setSignInPaused] = useState(false);

  const refreshCart = useCallback(async () => {
    try {
      const cart = await api<Cart>('/api/cart');
      setCartCount(cart.items.reduce((n, item) => n + item.quantity, 0));
      return cart;
    } catch {
      return undefined;
    }
  }, []);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loadUser = (attempt: number) => {
      api<SignedIn>('/api/auth/session')
        .then(({ user }) => {
          setSignInPaused(false);
          setUser(user);
        })
        .catch((err: unknown) => {
          // The cookie is still good, only unchecked for now: say so and ask again, rather than
          // showing the visitor as signed out.
          if (err instanceof ApiError && err.code === 'SESSIONS_UNAVAILABLE') {
            setSignInPaused(true);
            setUser((u) => (u === undefined ? null : u));
            timer = setTimeout(() => loadUser(attempt + 1), retryDelayMs(attempt));
            return;
          }
          setSignInPaused(false);
          setUser(null);
          console.warn('could not load the session', err);
        });
    };
    loadUser(0);
    api<Category[]>('/api/categories')
      .then(setCategories)
      .catch(() => setCategories([]));
    return () => clearTimeout(timer);
  }, []);

  // The cart follows the session (an anonymous cart merges at sign-in).
  useEffect(() => {
    if (user !== undefined) void refreshCart();
  }, [user, refreshCart]);

  const value = useMemo(
    () => ({ user, setUser, cartCount, refreshCart, categories, signInPaused }),
    [user, cartCount, refreshCart, categories, signInPaused],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside <SessionProvider>');
  return value;
}

/** All categories, parents and children, flat. */
export function flatCategories(tree: Category[] | undefined) {
  return (tree ?? []).flatMap((c) => [c, ...c.children]);
}
