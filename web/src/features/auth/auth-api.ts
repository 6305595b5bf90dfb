import { api } from '../../lib/api.ts';
import type { Role, User } from '../../lib/types.ts';

export async function logIn(email: string, password: string): Promise<User> {
  return (await api<{ user: User }>('/api/auth/login', { method: 'POST', body: { email, password } })).user;
}

export async function signUp(input: {
  name: string;
  email: string;
  password: string;
  role: Exclude<Role, 'admin'>;
}): Promise<User> {
  return (await api<{ user: User }>('/api/auth/signup', { method: 'POST', body: input })).user;
}

export async function logOut(): Promise<void> {
  await api<void>('/api/auth/logout', { method: 'POST' });
}
