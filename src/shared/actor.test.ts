import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Actor, requireRole } from './actor.ts';
import { AppError } from './errors.ts';

const buyer: Actor = { userId: 'u1', role: 'buyer' };
const seller: Actor = { userId: 'u2', role: 'seller' };
const admin: Actor = { userId: 'u3', role: 'admin' };

const refusal = (code: string, message: string) => (err: unknown) =>
  err instanceof AppError && err.code === code && err.message === message;

describe('requireRole', () => {
  it('when there is no actor, then UNAUTHENTICATED, whatever the roles asked', () => {
    for (const actor of [null, undefined]) {
      assert.throws(
        () => requireRole(actor),
        refusal('UNAUTHENTICATED', 'sign in first: this needs a signed-in user'),
      );
      assert.throws(
        () => requireRole(actor, 'seller'),
        refusal('UNAUTHENTICATED', 'sign in first: this needs a signed-in user'),
      );
    }
  });

  it('when no role is asked, then any signed-in actor passes', () => {
    for (const actor of [buyer, seller, admin]) assert.equal(requireRole(actor), actor);
  });

  it('when the actor lacks every role asked, then FORBIDDEN naming them; an admin holds them all', () => {
    assert.throws(() => requireRole(buyer, 'seller'), refusal('FORBIDDEN', 'this needs the seller role'));
    assert.throws(
      () => requireRole(buyer, 'seller', 'admin'),
      refusal('FORBIDDEN', 'this needs the seller or admin role'),
    );
    assert.equal(requireRole(seller, 'seller'), seller);
    assert.equal(requireRole(admin, 'seller'), admin);
  });
});
