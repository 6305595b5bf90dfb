/** The shell: providers, header, the route table, footer. Pages live in features/<feature>/. */
import { type ComponentType, useEffect, useRef } from 'react';
import { LoginPage, SignupPage } from '../features/auth/auth-pages.tsx';
import { CartPage } from '../features/cart/cart-page.tsx';
import { CheckoutPage } from '../features/cart/checkout-page.tsx';
import { CategoryPage } from '../features/catalog/category-page.tsx';
import { HomePage } from '../features/catalog/home-page.tsx';
import { ProductPage } from '../features/catalog/product-page.tsx';
import { SearchPage } from '../features/catalog/search-page.tsx';
import { LeaderboardsPage } from '../features/leaderboards/leaderboards-page.tsx';
import { OrderPage, OrdersPage } from '../features/orders/orders-pages.tsx';
import { AnalyticsPage } from '../features/sell/analytics-page.tsx';
import { MyProductsPage } from '../features/sell/my-products-page.tsx';
import { ProductEditorPage } from '../features/sell/product-editor-page.tsx';
import { SellerHomePage } from '../features/sell/seller-home-page.tsx';
import { SellerOrdersPage } from '../features/sell/seller-orders-page.tsx';
import { Header } from './header.tsx';
import { Link, matchPath, Router, useLocation } from './router.tsx';
import { SessionProvider } from './session.tsx';

type Page = ComponentType<{ params: Record<string, string> }>;

const ROUTES: [string, Page][] = [
  ['/', HomePage],
  ['/c/:category', CategoryPage],
  ['/search', SearchPage],
  ['/p/:id', ProductPage],
  ['/cart', CartPage],
  ['/checkout', CheckoutPage],
  ['/orders', OrdersPage],
  ['/orders/:id', OrderPage],
  ['/login', LoginPage],
  ['/signup', SignupPage],
  ['/sell', SellerHomePage],
  ['/sell/products', MyProductsPage],
  ['/sell/products/new', ProductEditorPage],
  ['/sell/products/:id', ProductEditorPage],
  ['/sell/orders', SellerOrdersPage],
  ['/sell/analytics', AnalyticsPage],
  ['/leaderboards', LeaderboardsPage],
];

function Routes() {
  const { pathname } = useLocation();
  for (const [pattern, Component] of ROUTES) {
    const params = matchPath(pattern, pathname);
    if (params) return <Component key={pathname} params={params} />;
  }
  return <NotFound />;
}

function NotFound() {
  return (
    <section className="page narrow">
      <h1>Page not found</h1>
      <p>There is nothing at this address. It may have moved, or the link may be mistyped.</p>
      <p>
        <Link to="/">Back to the shop</Link>
      </p>
    </section>
  );
}

/** Moves focus to the page after a client-side navigation, so screen readers announce it. */
function FocusOnNavigate() {
  const { pathname } = useLocation();
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on every new path
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // Search as you type navigates to /search while the visitor is still typing: keep their focus.
    if (document.activeElement?.closest('search')) return;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [pathname]);
  return null;
}

export function App() {
  return (
    <Router>
      <SessionProvider>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <Header />
        <main id="main" tabIndex={-1}>
          <FocusOnNavigate />
          <Routes />
        </main>
        <footer className="site-footer">
          <nav aria-label="Footer">
            <Link to="/leaderboards">Leaderboards</Link>
            <Link to="/sell">Sell on Bazaar</Link>
            <Link to="/orders">Your orders</Link>
          </nav>
          <p>Bazaar — a demo marketplace. Orders are placed without payment.</p>
        </footer>
      </SessionProvider>
    </Router>
  );
}
