/**
 * Accounts and their access keys: authentication (constant-time over every active key of the account, cached
 * briefly because the proxy entry authenticates each new connection), the first admin, users and keys.
 * Plain keys exist only in the return value of the call that generated them.
 */
import { createHash } from 'node:crypto';
import type { Account, AccessKeyInfo, Role, Store } from '../store/types.js';
import { generateAccessKey, hashAccessKey, hashesEqual, isPlausibleAccessKey } from './access-keys.js';
import type { AuthLimiter } from './auth-limiter.js';

export const ROLES: readonly Role[] = ['org_admin', 'team_admin', 'team_member', 'service_account'];

/** Usernames appear in proxy credentials (`user;tunnel=x:key`) and URL paths, so `;`, `:` and `/` are out. */
export function validUsername(u: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/.test(u);
}

export interface AccountServiceOptions {
  /** How long a successful authentication is remembered (ms); 0 disables the cache. */
  cacheTtlMs?: number;
  /** When given, authenticateFrom() refuses sources and usernames with too many recent failures. */
  limiter?: AuthLimiter;
  /** Secrets before a rotate-secret (newest first): keys hashed under them still verify, and are rehashed. */
  previousSecrets?: Buffer[];
  now?: () => number;
}

interface CacheEntry {
  account: Account;
  keyId: string;
  expires: number;
}

const CACHE_MAX = 4096;

export class AccountService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttl: number;
  private readonly now: () => number;
  readonly limiter: AuthLimiter | undefined;

  constructor(
    readonly store: Store,
    private readonly secret: Buffer,
    opts: AccountServiceOptions = {},
  ) {
    this.ttl = opts.cacheTtlMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.limiter = opts.limiter;
    this.previousSecrets = opts.previousSecrets ?? [];
  }

  private readonly previousSecrets: Buffer[];

  hash(key: string): string {
    return hashAccessKey(this.secret, key);
  }

  /** The account owning this key, or null (unknown user, disabled, wrong or revoked key). */
  async authenticate(username: string, key: string): Promise<Account | null> {
    const cacheKey = createHash('sha256')
      .update(this.secret)
      .update(username)
      .update('\0')
      .update(key)
      .digest('hex');
    const hit = this.cache.get(cacheKey);
    if (hit && hit.expires > this.now()) return hit.account;
    if (hit) this.cache.delete(cacheKey);

    const presented = this.hash(key);
    const account = validUsername(username) ? await this.store.getAccountByUsername(username) : null;
    const hashes = account && !account.disabled ? await this.store.activeKeyHashes(account.id) : [];
    // Compare against every active key, never stopping early, so timing does not tell which (or how many) matched.
    let matched: string | null = null;
    for (const h of hashes) if (hashesEqual(presented, h.hash) && matched === null) matched = h.id;
    // Not under the current secret: a key hashed before a rotate-secret verifies under an earlier one, and is
    // rehashed under the current secret now, so the old secrets are needed less and less.
    for (const old of matched === null ? this.previousSecrets : []) {
      const before = hashAccessKey(old, key);
      for (const h of hashes) if (hashesEqual(before, h.hash) && matched === null) matched = h.id;
      if (matched !== null) {
        if (account && !account.disabled && isPlausibleAccessKey(key)) {
          await this.store.setAccessKeyHash(matched, presented);
        }
        break;
      }
    }
    if (!account || account.disabled || matched === null || !isPlausibleAccessKey(key)) return null;

    // Bookkeeping only (the key's last use): a full or read-only data dir must not lock everyone out.
    await this.store.touchAccessKey(matched, Math.floor(this.now() / 1000)).catch(() => undefined);
    if (this.ttl > 0) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(cacheKey, { account, keyId: matched, expires: this.now() + this.ttl });
    }
    return account;
  }

  /**
   * authenticate() behind the failure limiter: `{retryAfter}` (seconds) when this source or username has failed
   * too often recently, in which case the key is not even checked.
   */
  async authenticateFrom(
    ip: string,
    username: string,
    key: string,
  ): Promise<Account | { retryAfter: number } | null> {
    const limiter = this.limiter;
    if (limiter) {
      const decision = limiter.check(ip, username);
      if (!decision.allowed) return { retryAfter: decision.retryAfter };
    }
    const account = await this.authenticate(username, key);
    if (account) limiter?.recordSuccess(ip, username);
    else limiter?.recordFailure(ip, username);
    return account;
  }

  /** Forgets cached authentications: after a revoke, disable, role or team change. */
  invalidate(accountId?: string): void {
    if (accountId === undefined) return this.cache.clear();
    for (const [k, v] of this.cache) if (v.account.id === accountId) this.cache.delete(k);
  }

  /**
   * Creates the first admin when the store has no account with that name yet. The key is the one given, else a
   * generated one, returned here only when generated. An existing account is left as it is (its keys too).
   */
  async ensureAdmin(
    username?: string,
    key?: string,
  ): Promise<{ username: string; accessKey?: string; created: boolean }> {
    const name = username ?? 'admin';
    if (!validUsername(name))
      throw new Error(`admin username "${name}" is not valid (letters, digits, . _ @ + -)`);
    if (key !== undefined && !isPlausibleAccessKey(key)) {
      throw new Error('admin access key must be 8-256 printable ASCII characters without spaces');
    }
    if (username === undefined && (await this.store.countAccounts()) > 0) {
      const admins = (await this.store.listAccounts()).filter((a) => a.role === 'org_admin');
      return { username: admins[0]?.username ?? name, created: false };
    }
    if (await this.store.getAccountByUsername(name)) return { username: name, created: false };
    const account = await this.store.createAccount({ username: name, role: 'org_admin' });
    const accessKey = key ?? generateAccessKey();
    await this.store.addAccessKey(account.id, this.hash(accessKey), 'initial admin key');
    return key === undefined
      ? { username: name, accessKey, created: true }
      : { username: name, created: true };
  }

  /** Creates an account, with a first access key unless `withKey` is false. */
  async createUser(
    u: { username: string; role: Role; orgId?: string; teamIds?: string[] },
    opts: { withKey?: boolean; keyLabel?: string } = {},
  ): Promise<{ account: Account; key?: string; keyInfo?: AccessKeyInfo }> {
    if (!validUsername(u.username)) {
      throw new Error(`username "${u.username}" is not valid (1-64 of letters, digits, . _ @ + -)`);
    }
    if (!ROLES.includes(u.role))
      throw new Error(`role "${String(u.role)}" is not one of ${ROLES.join(', ')}`);
    const account = await this.store.createAccount(u);
    if (opts.withKey === false) return { account };
    const { key, info } = await this.createKey(account.id, opts.keyLabel ?? 'default');
    return { account, key, keyInfo: info };
  }

  /** A new access key; the plain key is in the result and nowhere else. */
  async createKey(accountId: string, label: string): Promise<{ key: string; info: AccessKeyInfo }> {
    const key = generateAccessKey();
    const info = await this.store.addAccessKey(accountId, this.hash(key), label);
    return { key, info };
  }

  listKeys(accountId: string): Promise<AccessKeyInfo[]> {
    return this.store.listAccessKeys(accountId);
  }

  /** Revokes a key of this account; false when it is not this account's active key. */
  async revokeKey(accountId: string, keyId: string): Promise<boolean> {
    const info = await this.store.getAccessKey(keyId);
    if (!info || info.accountId !== accountId) return false;
    const done = await this.store.revokeAccessKey(keyId, Math.floor(this.now() / 1000));
    this.invalidate(accountId);
    return done;
  }

  /** Replaces a key by a new one with the same label; the old one stops working at once. */
  async rotateKey(accountId: string, keyId: string): Promise<{ key: string; info: AccessKeyInfo } | null> {
    const old = await this.store.getAccessKey(keyId);
    if (!old || old.accountId !== accountId || old.revokedAt !== null) return null;
    const fresh = await this.createKey(accountId, old.label);
    await this.revokeKey(accountId, keyId);
    return fresh;
  }

  async setDisabled(accountId: string, disabled: boolean): Promise<Account | null> {
    const a = await this.store.updateAccount(accountId, { disabled });
    this.invalidate(accountId);
    return a;
  }

  async setRole(accountId: string, role: Role): Promise<Account | null> {
    const a = await this.store.updateAccount(accountId, { role });
    this.invalidate(accountId);
    return a;
  }

  async setTeams(accountId: string, teamIds: string[]): Promise<Account | null> {
    await this.store.setAccountTeams(accountId, teamIds);
    this.invalidate(accountId);
    return this.store.getAccountById(accountId);
  }
}
