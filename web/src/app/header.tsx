import { type FormEvent, useEffect, useRef, useState } from 'react';
import { logOut } from '../features/auth/auth-api.ts';
import { errorMessage } from '../lib/api.ts';
import { Link, NavLink, useLocation, useNavigate } from './router.tsx';
import { useSession } from './session.tsx';

const SEARCH_DEBOUNCE_MS = 250;

/** The search box on every page: typing shows results as you type (debounced), Enter at once. */
function SearchBox() {
  const { pathname, search } = useLocation();
  const navigate = useNavigate();
  const urlQuery = pathname === '/search' ? (new URLSearchParams(search).get('q') ?? '') : '';
  const [text, setText] = useState(urlQuery);
  const typed = useRef(false);

  useEffect(() => {
    if (!typed.current) setText(urlQuery);
  }, [urlQuery]);

  useEffect(() => {
    if (!typed.current) return;
    const t = setTimeout(() => {
      typed.current = false;
      const q = text.trim();
      if (q === urlQuery.trim()) return;
      const to = q ? `/search?q=${encodeURIComponent(q)}` : '/search';
      navigate(to, { replace: pathname === '/search' });
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [text, urlQuery, pathname, navigate]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    typed.current = false;
    const q = text.trim();
    navigate(q ? `/search?q=${encodeURIComponent(q)}` : '/search', { replace: pathname === '/search' });
  };

  return (
    <search className="search">
      <form onSubmit={submit}>
        <input
          type="search"
          aria-label="Search products"
          placeholder="Search products"
          value={text}
          maxLength={200}
          onChange={(e) => {
            typed.current = true;
            setText(e.target.value);
          }}
        />
        <button type="submit" className="search-button" aria-label="Search">
          <svg viewBox="0 0 24 24" aria-hidden="true" width="18" height="18">
            <circle cx="10.5" cy="10.5" r="6.5" fill="none" stroke="currentColor" strokeWidth="2" />
            <path d="M15.5 15.5 21 21" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
        </button>
      </form>
    </search>
  );
}

export function Header() {
  const { user, setUser, cartCount, signInPaused } = useSession();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  const onLogOut = async () => {
    setError(null);
    try {
      await logOut();
      setUser(null);
      navigate('/');
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <header className="site-header">
      <div className="header-row">
        <Link to="/" className="brand" aria-label="Bazaar home">
          <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path
              d="M9 12h14l-1.5 12h-11z"
              fill="none"
              stroke="#f4c95d"
              strokeWidth="2.4"
              strokeLinejoin="round"
            />
            <path d="M12.5 12a3.5 3.5 0 0 1 7 0" fill="none" stroke="#f4c95d" strokeWidth="2.4" />
          </svg>
          <span>Bazaar</span>
        </Link>
        <SearchBox />
        <nav aria-label="Account" className="account-nav">
          {(user?.role === 'seller' || user?.role === 'admin') && (
            <NavLink to="/sell" section>
              Sell
            </NavLink>
          )}
          {user ? (
            <>
              <NavLink to="/orders" section>
                Orders
              </NavLink>
              <span className="user-name" title={user.email}>
                {user.name}
              </span>
              <button type="button" className="link-button" onClick={onLogOut}>
                Log out
              </button>
            </>
          ) : user === null ? (
            <>
              <NavLink to="/login">Log in</NavLink>
              <NavLink to="/signup">Sign up</NavLink>
            </>
          ) : null}
          <NavLink to="/cart" className="cart-link">
            Cart{' '}
            <span className="badge" data-testid="cart-count">
              {cartCount}
            </span>
            <span className="visually-hidden"> {cartCount === 1 ? 'item' : 'items'}</span>
          </NavLink>
        </nav>
      </div>
      {error && (
        <div role="alert" className="alert header-alert">
          {error}
        </div>
      )}
      {signInPaused && (
        <div role="status" className="alert header-alert">
          Your sign-in cannot be checked right now; you are still signed in. Browsing works, and we will try
          again in a moment.
        </div>
      )}
    </header>
  );
}
