import type { ReactNode } from 'react';
import { Link, NavLink } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Loading } from '../../components/status.tsx';
import { SignInFirst } from '../orders/orders-pages.tsx';

/** The seller dashboard's frame: only sellers (and admins) get in; others are told how. */
export function SellerLayout({
  title,
  next,
  children,
}: {
  title: string;
  next: string;
  children: ReactNode;
}) {
  const { user } = useSession();
  if (user === undefined) return <Loading />;
  if (user === null) return <SignInFirst what="the seller dashboard" next={next} />;
  if (user.role === 'buyer')
    return (
      <section className="page narrow">
        <h1>Sell on Bazaar</h1>
        <p>
          The seller dashboard is for seller accounts, and you are signed in as a buyer. Log out and{' '}
          <Link to="/signup">sign up</Link> choosing “Sell” to open a shop.
        </p>
      </section>
    );
  return (
    <div className="page seller">
      <nav aria-label="Seller dashboard" className="tabs">
        <NavLink to="/sell" className="tab">
          Overview
        </NavLink>
        <NavLink to="/sell/products" section className="tab">
          My products
        </NavLink>
        <NavLink to="/sell/orders" className="tab">
          My orders
        </NavLink>
        <NavLink to="/sell/analytics" className="tab">
          Analytics
        </NavLink>
      </nav>
      <h1>{title}</h1>
      {children}
    </div>
  );
}
