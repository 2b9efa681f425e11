// A host app's calls, typed by the TypeScript types openapi-typescript
// generates from the served document (./api.d.ts, written by
// tests/contract.test.mjs). It is only type-checked (tsc --noEmit): a
// renamed schema, a field that changes type, an array that may be null or
// an answer that is no longer documented fails the check.
import type { components, paths } from './api';

type Schemas = components['schemas'];
type JSONBody<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type ProblemBody<T> = T extends { content: { 'application/problem+json': infer B } } ? B : never;

type SignUp = paths['/v1/users']['post'];
type GrantCoins = paths['/v1/admin/grants']['post'];
type BuyCoins = paths['/v1/purchases']['post'];
type SendGift = paths['/v1/lives/{id}/gifts']['post'];
type SendTip = paths['/v1/creators/{id}/tips']['post'];
type History = paths['/v1/me/transactions']['get'];

export const signUp: JSONBody<SignUp['requestBody']> = {
  handle: 'host_fan',
  password: 'fanfare-demo',
  region: 'FR',
  birth_date: '1990-05-17',
};

export const grant: JSONBody<GrantCoins['requestBody']> = { user_id: '01j0000000000000000000000', coins: 5000, reason: 'welcome' };
export const grantKey: GrantCoins['parameters']['header']['Idempotency-Key'] = 'welcome-1';

export const gift: JSONBody<SendGift['requestBody']> = { gift_id: 'rose', count: 2 };
export const tip: JSONBody<SendTip['requestBody']> = { coins: 100, message: 'Merci !' };

/** What a host app shows of an answer; each answer is the named schema. */
export function describeUser(u: JSONBody<SignUp['responses'][201]>): string {
  const user: Schemas['User'] = u;
  return `@${user.handle} (${user.id})`;
}

export function describeWallet(w: Schemas['Wallet']): string {
  return `${w.coins} coins, ${w.diamonds} diamonds`;
}

/** Arrays are never null: no check before .length or .map. */
export function describeHistory(h: JSONBody<History['responses'][200]>): string[] {
  const history: Schemas['History'] = h;
  return history.transactions.map((t: Schemas['Transaction']) => `${t.kind} ${t.amount} ${t.asset}`);
}

export function topGifters(l: Schemas['Lives']): number {
  return l.lives.length;
}

export function catalog(g: Schemas['Gifts']): string[] {
  return g.gifts.map((x) => `${x.name} (${x.coins} coins)`);
}

/** The refusals a host app handles are documented, with their problem body. */
export function refusals(
  tooMany: ProblemBody<BuyCoins['responses'][429]>,
  unavailable: ProblemBody<BuyCoins['responses'][503]>,
  notJSON: ProblemBody<SignUp['responses'][415]>,
  limited: ProblemBody<SignUp['responses'][429]>,
): string[] {
  const problems: Schemas['Problem'][] = [tooMany, unavailable, notJSON, limited];
  return problems.map((p) => `${p.status} ${p.code}: ${p.detail}`);
}

export function sent(g: JSONBody<SendGift['responses'][201]>, t: JSONBody<SendTip['responses'][201]>): number {
  return g.balance - t.coins;
}
