/**
 * Admin REST API (Basic auth like the rest of /rest/v1). Who may do what is in accounts/admin-policy.ts:
 *   GET    /rest/v1/admin/whoami
 *   GET    /rest/v1/admin/users                              POST  /rest/v1/admin/users
 *   GET    /rest/v1/admin/users/:username                    PATCH /rest/v1/admin/users/:username
 *   GET    /rest/v1/admin/users/:username/keys               POST  /rest/v1/admin/users/:username/keys
 *   POST   /rest/v1/admin/users/:username/keys/:id/rotate    DELETE /rest/v1/admin/users/:username/keys/:id
 *   GET    /rest/v1/admin/orgs                               POST  /rest/v1/admin/orgs
 *   GET    /rest/v1/admin/teams[?org=]                       POST  /rest/v1/admin/teams
 *   PUT    /rest/v1/admin/teams/:team/members/:username      DELETE (same path)
 *   GET    /rest/v1/admin/audit[?limit=N]                    (org admins: the audit log, newest first)
 * Every request that changes something (not GET) is written to the audit log: who, what, when, result.
 * Responses that carry a new access key are marked no-store; the key is in that response only.
 */
import type { Logger } from '../../observability/log.js';
import type { AccountService } from '../accounts/account-service.js';
import { AdminError, AdminOperations } from '../accounts/admin-operations.js';
import type { Store } from '../store/types.js';
import { DEFAULT_ORG_ID } from '../store/migrations.js';
import { RestError, type Handler, type RestContext, type Router } from './router.js';

export interface AdminRoutesDeps {
  store: Store;
  accounts: AccountService;
  log: Logger;
}

const STATUS: Record<AdminError['kind'], number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
};
const NO_STORE = { 'cache-control': 'no-store' };

/** What an action acted on: its path parameters, else the name it created. Never a key or a body. */
export function auditTarget(params: Record<string, string>, result?: unknown): string {
  const fromPath = Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  if (fromPath) return fromPath;
  const r = (result ?? {}) as { user?: { username?: string }; name?: string; username?: string };
  const name = r.user?.username ?? r.username ?? r.name;
  return typeof name === 'string' ? name : '';
}

/** Appends to the audit log; a failed write is logged, it does not undo or fail the action itself. */
export async function recordAudit(
  store: Store,
  log: Logger,
  e: { actor: string; action: string; target: string; result: string },
): Promise<void> {
  try {
    await store.addAudit({ at: Math.floor(Date.now() / 1000), ...e });
  } catch (err) {
    log.error('audit log write failed', { error: err, action: e.action, actor: e.actor });
  }
}

export function registerAdminRoutes(router: Router, deps: AdminRoutesDeps): void {
  const ops = new AdminOperations(deps.accounts, deps.log);

  /** Runs an operation as the authenticated account, mapping its errors to REST errors. */
  const route = (
    method: string,
    path: string,
    fn: (ctx: RestContext) => Promise<unknown>,
    opts: { status?: number; secret?: boolean } = {},
  ): void => {
    const handler: Handler = async (ctx) => {
      if (!ctx.account)
        throw new RestError(401, 'unauthorized', 'Not authorized: wrong username or access key');
      const audit = (result: string, body?: unknown): Promise<void> =>
        method === 'GET'
          ? Promise.resolve()
          : recordAudit(deps.store, deps.log, {
              actor: ctx.account!.username,
              action: `${method} /admin${path}`,
              target: auditTarget(ctx.params, body),
              result,
            });
      try {
        const body = await fn(ctx);
        await audit('ok', body);
        return { status: opts.status ?? 200, body, ...(opts.secret ? { headers: NO_STORE } : {}) };
      } catch (err) {
        if (err instanceof AdminError) {
          await audit(`error:${err.code}`);
          throw new RestError(STATUS[err.kind], err.code, err.message);
        }
        await audit(err instanceof RestError ? `error:${err.code}` : 'error:internal');
        throw err;
      }
    };
    router.add(method, `/rest/v1/admin${path}`, handler);
  };
  const p = (ctx: RestContext, name: string): string => ctx.params[name] ?? '';
  const me = (ctx: RestContext) => ctx.account!;

  route('GET', '/whoami', (ctx) => ops.whoami(me(ctx)));
  route('GET', '/audit', async (ctx) => {
    if (me(ctx).role !== 'org_admin' || me(ctx).orgId !== DEFAULT_ORG_ID) {
      throw new AdminError('forbidden', 'forbidden', 'only admins of the server may read the audit log');
    }
    const limit = Number(ctx.query.get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new AdminError('invalid', 'invalid_limit', 'limit must be an integer from 1 to 10000');
    }
    return deps.store.listAudit({ limit });
  });
  route('GET', '/users', (ctx) => ops.listUsers(me(ctx)));
  route('POST', '/users', async (ctx) => ops.createUser(me(ctx), await ctx.body()), {
    status: 201,
    secret: true,
  });
  route('GET', '/users/:username', (ctx) => ops.getUser(me(ctx), p(ctx, 'username')));
  route('PATCH', '/users/:username', async (ctx) =>
    ops.updateUser(me(ctx), p(ctx, 'username'), await ctx.body()),
  );
  route('GET', '/users/:username/keys', (ctx) => ops.listKeys(me(ctx), p(ctx, 'username')));
  route(
    'POST',
    '/users/:username/keys',
    async (ctx) => ops.createKey(me(ctx), p(ctx, 'username'), await ctx.body()),
    {
      status: 201,
      secret: true,
    },
  );
  route(
    'POST',
    '/users/:username/keys/:id/rotate',
    (ctx) => ops.rotateKey(me(ctx), p(ctx, 'username'), p(ctx, 'id')),
    {
      secret: true,
    },
  );
  route('DELETE', '/users/:username/keys/:id', async (ctx) => ({
    result: true,
    key: await ops.revokeKey(me(ctx), p(ctx, 'username'), p(ctx, 'id')),
  }));
  route('GET', '/orgs', (ctx) => ops.listOrgs(me(ctx)));
  route('POST', '/orgs', async (ctx) => ops.createOrg(me(ctx), await ctx.body()), { status: 201 });
  route('GET', '/teams', (ctx) => ops.listTeams(me(ctx), ctx.query.get('org') ?? undefined));
  route('POST', '/teams', async (ctx) => ops.createTeam(me(ctx), await ctx.body()), { status: 201 });
  route('PUT', '/teams/:team/members/:username', (ctx) =>
    ops.setMembership(me(ctx), p(ctx, 'team'), p(ctx, 'username'), true),
  );
  route('DELETE', '/teams/:team/members/:username', (ctx) =>
    ops.setMembership(me(ctx), p(ctx, 'team'), p(ctx, 'username'), false),
  );
}
