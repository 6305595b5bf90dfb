import { Link } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { SellerLayout } from './seller-layout.tsx';

export function SellerHomePage() {
  const { user } = useSession();
  return (
    <SellerLayout title={`Your shop${user ? `, ${user.name}` : ''}`} next="/sell">
      <div className="dashboard-cards">
        <Link to="/sell/products" className="card-panel dash-card">
          <strong>My products</strong>
          <span>Create, edit, publish; add photos.</span>
        </Link>
        <Link to="/sell/orders" className="card-panel dash-card">
          <strong>My orders</strong>
          <span>Orders with your products; ship them.</span>
        </Link>
        <Link to="/sell/analytics" className="card-panel dash-card">
          <strong>Analytics</strong>
          <span>Views per day and what people search for.</span>
        </Link>
      </div>
      <p>
        <Link to="/sell/products/new" className="button primary">
          New product
        </Link>
      </p>
    </SellerLayout>
  );
}
