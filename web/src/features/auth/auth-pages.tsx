import { type FormEvent, useState } from 'react';
import { Link, useNavigate, useSearchParam } from '../../app/router.tsx';
import { useSession } from '../../app/session.tsx';
import { Field } from '../../components/field.tsx';
import { ErrorAlert } from '../../components/status.tsx';
import type { User } from '../../lib/types.ts';
import { logIn, signUp } from './auth-api.ts';

/** Where to go after signing in: `?next=` when it is a path of this site, else by role. */
function useAfterSignIn() {
  const next = useSearchParam('next');
  const navigate = useNavigate();
  const { setUser, refreshCart } = useSession();
  return (user: User) => {
    setUser(user);
    void refreshCart();
    const safe = next.startsWith('/') && !next.startsWith('//') ? next : null;
    navigate(safe ?? (user.role === 'seller' ? '/sell' : '/'));
  };
}

export function LoginPage() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const next = useSearchParam('next');
  const done = useAfterSignIn();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      done(await logIn(email, password));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="page narrow">
      <h1>Log in</h1>
      <form className="form card-panel" onSubmit={submit}>
        <ErrorAlert error={error} />
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p className="aside">
        New here?{' '}
        <Link to={`/signup${next ? `?next=${encodeURIComponent(next)}` : ''}`}>Create an account</Link>
      </p>
    </section>
  );
}

export function SignupPage() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'buyer' | 'seller'>('buyer');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const next = useSearchParam('next');
  const done = useAfterSignIn();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      done(await signUp({ name, email, password, role }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="page narrow">
      <h1>Sign up</h1>
      <form className="form card-panel" onSubmit={submit}>
        <ErrorAlert error={error} />
        <Field
          label="Name"
          autoComplete="name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          hint="At least 10 characters."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <fieldset className="choice">
          <legend>I want to</legend>
          <label>
            <input
              type="radio"
              name="role"
              value="buyer"
              checked={role === 'buyer'}
              onChange={() => setRole('buyer')}
            />
            Buy
          </label>
          <label>
            <input
              type="radio"
              name="role"
              value="seller"
              checked={role === 'seller'}
              onChange={() => setRole('seller')}
            />
            Sell
          </label>
        </fieldset>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Signing up…' : 'Sign up'}
        </button>
      </form>
      <p className="aside">
        Already have an account?{' '}
        <Link to={`/login${next ? `?next=${encodeURIComponent(next)}` : ''}`}>Log in</Link>
      </p>
    </section>
  );
}
