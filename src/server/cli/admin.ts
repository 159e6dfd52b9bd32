/**
 * `sc-server admin ...`: manages users, keys, orgs and teams by opening the data directory's store directly
 * (the operator on the server's machine is trusted with everything, as they can read the files anyway). Works
 * while the server runs: the store is in WAL mode with a busy timeout. A running server may accept a key revoked
 * here for up to 5 seconds (its authentication cache); the admin REST API revokes at once.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  optionSpec,
  parseOptions,
  propertyName,
  SERVER_ENV_ALIASES,
  SERVER_FLAGS,
  serverEnvName,
  type FlagDef,
} from '../../options/index.js';
import { AccountService } from '../accounts/account-service.js';
import {
  AdminError,
  AdminOperations,
  type KeyView,
  type TeamView,
  type UserView,
} from '../accounts/admin-operations.js';
import { loadOrCreateSecret, loadPreviousSecrets, rotateSecret } from '../accounts/server-secret.js';
import {
  BackupError,
  backupDataDir,
  initSharedState,
  restoreDataDir,
  SHARED_FILES,
} from '../store/backup.js';
import { openSqliteStore, STORE_FILE } from '../store/sqlite-store.js';
import { isSharedStore, openStore } from '../store/open.js';
import { readStorePasswordFile } from '../store/password-file.js';
import { StoreUnavailableError, type Store } from '../store/types.js';
import { rotateCa } from '../pki/ca.js';
import { loadOrCreateResignCa } from '../pki/resign-ca.js';
import { recordAudit } from '../rest/admin-routes.js';
import { createLogger } from '../../observability/log.js';
import { VERSION } from '../../version.js';

const USAGE = `sc-server admin: manage users, access keys, orgs and teams in a Sluice data directory

Usage: sc-server admin <command> [args] [--data-dir DIR] [--json]

  users list
  users show USERNAME
  users create USERNAME [--role ROLE] [--org ORG] [--team TEAM]... [--label LABEL] [--no-key]
  users disable USERNAME | users enable USERNAME
  users set-role USERNAME ROLE
  users set-teams USERNAME [--team TEAM]...       (no --team: remove from all teams)
  keys list USERNAME
  keys create USERNAME [--label LABEL]            prints the new access key once
  keys rotate USERNAME KEY_ID                     new key, same label; the old one stops working
  keys revoke USERNAME KEY_ID
  orgs list | orgs create NAME
  teams list [--org ORG] | teams create NAME [--org ORG]
  teams add-member TEAM USERNAME | teams remove-member TEAM USERNAME
  backup --out DIR                                copy the data dir (store, secret, CA) into the new DIR, also
                                                  while the server runs (SQLite online backup); files 0600
  restore --from DIR [--force]                    restore a backup into --data-dir, which must be new or empty
                                                  (--force replaces it) and not in use by a running server
  init-shared --out DIR                           new server secret and CA for the nodes of a cluster on a
                                                  PostgreSQL store, to mount into each one's data dir (docs/cluster.md)
  rotate-ca [--finish]                            new CA in two steps: ca.pem bundles both; --finish switches (restart)
  rotate-secret                                   new server secret; existing keys keep working (restart after)
  resign-ca                                       print the TLS resigning CA certificate (PEM), which browsers
                                                  trust for resigned HTTPS (--json: path, fingerprint, PEM)
  audit [--limit N]                               admin actions, newest first (REST and these commands)

Roles: org_admin, team_admin, team_member (default), service_account (cannot start tunnels).
--data-dir defaults to SLUICE_SERVER_DATA_DIR (or SC_DATA_DIR) or ./sluice-data, as for "sc-server start". On a
PostgreSQL store give --store postgres://... (or SLUICE_SERVER_STORE) and --store-password-file as for the server;
--data-dir still holds the server secret. Exit codes: 0 done, 1 not found / already exists / refused, 2 usage or
invalid input.
`;

class Usage extends Error {}

/** The same declarations as `sc-server start --data-dir`, `--store`... (and their env vars). */
const DATA_DIR = SERVER_FLAGS.find((f) => f.name === 'data-dir')!;
const STORE = SERVER_FLAGS.find((f) => f.name === 'store')!;
const STORE_PASSWORD_FILE = SERVER_FLAGS.find((f) => f.name === 'store-password-file')!;
const ENV_FLAGS = new Set(['data-dir', 'store', 'store-password-file']);

const ADMIN_FLAGS: readonly FlagDef[] = [
  DATA_DIR,
  STORE,
  STORE_PASSWORD_FILE,
  { name: 'json', type: 'bool', default: false, group: 'Server', description: 'Print JSON.' },
  { name: 'role', type: 'string', default: '', group: 'Server', description: 'Role of a new user.' },
  { name: 'org', type: 'string', default: '', group: 'Server', description: 'Organisation.' },
  { name: 'team', type: 'list', default: [], group: 'Server', description: 'Team (repeatable).' },
  { name: 'label', type: 'string', default: '', group: 'Server', description: 'Label of a new key.' },
  { name: 'no-key', type: 'bool', default: false, group: 'Server', description: 'Create no access key.' },
  { name: 'out', type: 'string', default: '', group: 'Server', description: 'Backup directory to create.' },
  { name: 'from', type: 'string', default: '', group: 'Server', description: 'Backup directory to restore.' },
  { name: 'force', type: 'bool', default: false, group: 'Server', description: 'Restore over a used dir.' },
  { name: 'finish', type: 'bool', default: false, group: 'Server', description: 'Finish a CA rotation.' },
  { name: 'limit', type: 'int', default: 50, min: 1, max: 10_000, group: 'Server', description: 'Entries.' },
  { name: 'help', short: 'h', type: 'bool', default: false, group: 'Server', description: 'Usage.' },
];

/** Admin commands take positionals and flags through the one option parser; only --data-dir has env vars. */
const ADMIN_SPEC = optionSpec({
  command: 'sc-server admin',
  flags: ADMIN_FLAGS,
  env: (flag) => (ENV_FLAGS.has(flag) ? serverEnvName(flag) : null),
  envAliases: { 'data-dir': SERVER_ENV_ALIASES['data-dir'] ?? [] },
  positionals: true,
});

interface AdminFlags {
  'data-dir'?: string;
  store?: string;
  'store-password-file'?: string;
  json?: boolean;
  role?: string;
  org?: string;
  team?: string[];
  label?: string;
  'no-key'?: boolean;
  out?: string;
  from?: string;
  force?: boolean;
  limit?: number;
  finish?: boolean;
  help?: boolean;
}

/** The --store-password-file's content (undefined when not set). */
function readPasswordFile(file: string): string | undefined {
  if (!file) return undefined;
  try {
    return readStorePasswordFile(file);
  } catch (err) {
    throw new Usage((err as Error).message);
  }
}

function need(args: string[], n: number, what: string): string[] {
  if (args.length !== n) throw new Usage(`expected ${what}`);
  return args;
}

function userLine(u: UserView): string {
  const teams = u.teams.length ? `\tteams=${u.teams.join(',')}` : '';
  return `${u.username}\trole=${u.role}\torg=${u.org}${teams}${u.disabled ? '\tDISABLED' : ''}`;
}

function keyLine(k: KeyView): string {
  const used = k.last_used_at ? new Date(k.last_used_at * 1000).toISOString() : 'never';
  return `${k.id}\t${k.active ? 'active ' : 'revoked'}\tlabel=${JSON.stringify(k.label)}\tlast_used=${used}`;
}

function teamLine(t: TeamView): string {
  return `${t.name}\torg=${t.org}\tid=${t.id}`;
}

export async function runAdmin(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s + '\n');
  let v: AdminFlags;
  let positionals: string[];
  try {
    const parsed = parseOptions(ADMIN_SPEC, argv, env, process.cwd());
    positionals = parsed.positionals;
    // Unset flags stay undefined, as the commands below distinguish "not given" from a default.
    const given: AdminFlags & Record<string, unknown> = {};
    for (const f of ADMIN_FLAGS)
      if (parsed.sources[f.name] !== 'default') given[f.name] = parsed.values[propertyName(f.name)];
    v = given;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`sc-server admin: ${err.message}\n`);
    return 2;
  }
  const [group, action, ...args] = positionals;
  if (v.help || group === undefined || group === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const dir = resolve(v['data-dir'] ?? (DATA_DIR.default as string));
  const shared = isSharedStore(v.store ?? '');
  if (shared && (group === 'backup' || group === 'restore')) {
    process.stderr.write(
      `sc-server admin: ${group} copies the embedded store; back up a PostgreSQL store with pg_dump ` +
        "(and the data directory's server secret and CA with it; docs/cluster.md)\n",
    );
    return 2;
  }
  if (group === 'backup' || group === 'restore') return backupCommand(group, action, v, dir);
  if (group === 'init-shared') return initSharedCommand(action, v);
  if (!shared && !existsSync(join(dir, STORE_FILE))) {
    process.stderr.write(
      `sc-server admin: no Sluice store at ${join(dir, STORE_FILE)}; start sc-server once or pass --data-dir\n`,
    );
    return 2;
  }
  let store: Store;
  try {
    store = shared
      ? await openStore(
          { url: v.store!, password: readPasswordFile(v['store-password-file'] ?? '') },
          dir,
          createLogger({ level: 'error' }),
        )
      : await openSqliteStore(dir);
  } catch (err) {
    if (!(err instanceof StoreUnavailableError) && !(err instanceof Usage)) throw err;
    process.stderr.write(`sc-server admin: ${err.message}\n`);
    return err instanceof Usage ? 2 : 1;
  }
  let auditError = (_result: string): Promise<void> => Promise.resolve();
  try {
    const ops = new AdminOperations(
      new AccountService(store, await loadOrCreateSecret(dir), {
        previousSecrets: await loadPreviousSecrets(dir),
      }),
    );
    const show = (value: unknown, text: () => string): void =>
      out(v.json ? JSON.stringify(value, null, 2) : text());
    const shownOnce = (key: string): string => `access key (shown once, store it now): ${key}`;
    const cmd = `${group} ${action ?? ''}`.trim();
    // Every command that changes something goes to the audit log, as the admin REST API's do.
    const audited = !/^(\w+ (list|show)|audit.*|resign-ca)$/.test(cmd);
    const audit = (result: string): Promise<void> =>
      audited
        ? recordAudit(store, createLogger({ level: 'error' }), {
            actor: `local:${userInfo().username}`,
            action: `admin ${cmd}`,
            target: args.join(' '),
            result,
          })
        : Promise.resolve();
    auditError = audit;
    switch (cmd) {
      case 'rotate-ca': {
        need(args, 0, 'no arguments');
        const fingerprint = await rotateCa(dir, v.finish ? 'finish' : 'start').catch((err: Error) => {
          throw new AdminError('conflict', 'rotation_state', err.message);
        });
        out(
          v.finish
            ? `certificate authority ${fingerprint} is now the current one; restart sc-server to use it`
            : `new certificate authority ${fingerprint}: ${join(dir, 'ca.pem')} now holds the current and the ` +
                'new CA; give it to every client (--cacert-file), then run "rotate-ca --finish" and restart',
        );
        break;
      }
      case 'resign-ca': {
        need(args, 0, 'no arguments');
        const r = await loadOrCreateResignCa(dir);
        show({ path: r.path, fingerprint: r.fingerprint, certificate: r.ca.certPem }, () =>
          r.ca.certPem.trimEnd(),
        );
        break;
      }
      case 'rotate-secret': {
        need(args, 0, 'no arguments');
        await rotateSecret(dir);
        out(
          'server secret rotated; restart sc-server to use it. Existing access keys and tunnel tokens keep ' +
            'working (verified under the previous secret, keys rehashed on next use).',
        );
        break;
      }
      case 'audit': {
        if (args.length) throw new Usage('expected no arguments (use --limit N)');
        const entries = await store.listAudit({ limit: v.limit ?? 50 });
        show(entries, () =>
          entries
            .map(
              (e) =>
                `${new Date(e.at * 1000).toISOString()}\t${e.actor}\t${e.action}\t${e.target}\t${e.result}`,
            )
            .join('\n'),
        );
        break;
      }
      case 'users list': {
        need(args, 0, 'no arguments');
        const users = await ops.listUsers('local');
        show(users, () => users.map(userLine).join('\n'));
        break;
      }
      case 'users show': {
        const [u] = need(args, 1, 'USERNAME');
        const user = await ops.getUser('local', u!);
        const keys = await ops.listKeys('local', u!);
        show({ ...user, keys }, () => [userLine(user), ...keys.map((k) => '  key ' + keyLine(k))].join('\n'));
        break;
      }
      case 'users create': {
        const [username] = need(args, 1, 'USERNAME');
        const made = await ops.createUser('local', {
          username,
          role: v.role ?? 'team_member',
          org: v.org,
          teams: v.team ?? [],
          label: v.label,
          create_key: !v['no-key'],
        });
        show(made, () =>
          [userLine(made.user), ...(made.access_key ? [shownOnce(made.access_key)] : [])].join('\n'),
        );
        break;
      }
      case 'users disable':
      case 'users enable': {
        const [u] = need(args, 1, 'USERNAME');
        const user = await ops.updateUser('local', u!, { disabled: action === 'disable' });
        show(user, () => userLine(user));
        break;
      }
      case 'users set-role': {
        const [u, r] = need(args, 2, 'USERNAME ROLE');
        const user = await ops.updateUser('local', u!, { role: r });
        show(user, () => userLine(user));
        break;
      }
      case 'users set-teams': {
        const [u] = need(args, 1, 'USERNAME');
        const user = await ops.updateUser('local', u!, { teams: v.team ?? [] });
        show(user, () => userLine(user));
        break;
      }
      case 'keys list': {
        const [u] = need(args, 1, 'USERNAME');
        const keys = await ops.listKeys('local', u!);
        show(keys, () => keys.map(keyLine).join('\n'));
        break;
      }
      case 'keys create': {
        const [u] = need(args, 1, 'USERNAME');
        const made = await ops.createKey('local', u!, { label: v.label });
        show(made, () => `${keyLine(made.key)}\n${shownOnce(made.access_key)}`);
        break;
      }
      case 'keys rotate': {
        const [u, id] = need(args, 2, 'USERNAME KEY_ID');
        const made = await ops.rotateKey('local', u!, id!);
        show(made, () => `${keyLine(made.key)} (replaces ${made.replaced})\n${shownOnce(made.access_key)}`);
        break;
      }
      case 'keys revoke': {
        const [u, id] = need(args, 2, 'USERNAME KEY_ID');
        const key = await ops.revokeKey('local', u!, id!);
        show(key, () => keyLine(key));
        break;
      }
      case 'orgs list': {
        need(args, 0, 'no arguments');
        const orgs = await ops.listOrgs('local');
        show(orgs, () => orgs.map((o) => `${o.name}\tid=${o.id}`).join('\n'));
        break;
      }
      case 'orgs create': {
        const [name] = need(args, 1, 'NAME');
        const org = await ops.createOrg('local', { name });
        show(org, () => `${org.name}\tid=${org.id}`);
        break;
      }
      case 'teams list': {
        need(args, 0, 'no arguments');
        const teams = await ops.listTeams('local', v.org);
        show(teams, () => teams.map(teamLine).join('\n'));
        break;
      }
      case 'teams create': {
        const [name] = need(args, 1, 'NAME');
        const team = await ops.createTeam('local', { name, org: v.org });
        show(team, () => teamLine(team));
        break;
      }
      case 'teams add-member':
      case 'teams remove-member': {
        const [team, u] = need(args, 2, 'TEAM USERNAME');
        const user = await ops.setMembership('local', team!, u!, action === 'add-member');
        show(user, () => userLine(user));
        break;
      }
      default:
        throw new Usage(`unknown command "${cmd}"; try "sc-server admin help"`);
    }
    await audit('ok');
    return 0;
  } catch (err) {
    if (err instanceof AdminError) await auditError(`error:${err.code}`);
    if (err instanceof Usage) {
      process.stderr.write(`sc-server admin: ${group} ${action ?? ''}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof AdminError) {
      process.stderr.write(`sc-server admin: ${err.message} (${err.code})\n`);
      return err.kind === 'invalid' ? 2 : 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}

async function initSharedCommand(extra: string | undefined, v: { out?: string }): Promise<number> {
  const fail = (msg: string, code: number): number => {
    process.stderr.write(`sc-server admin init-shared: ${msg}\n`);
    return code;
  };
  if (extra !== undefined) return fail(`unexpected argument "${extra}"`, 2);
  if (!v.out) return fail('--out DIR is required (a new directory for the shared files)', 2);
  try {
    const fingerprint = await initSharedState(resolve(v.out));
    process.stdout.write(
      `wrote ${SHARED_FILES.join(', ')} to ${resolve(v.out)} (CA ${fingerprint}); put them in one secret ` +
        "and mount it into every node's data directory\n",
    );
    return 0;
  } catch (err) {
    if (err instanceof BackupError) return fail(err.message, 1);
    const e = err as NodeJS.ErrnoException;
    if (e.code) return fail(e.message, 1);
    throw err;
  }
}

async function backupCommand(
  group: 'backup' | 'restore',
  extra: string | undefined,
  v: { out?: string; from?: string; force?: boolean },
  dir: string,
): Promise<number> {
  const fail = (msg: string, code: number): number => {
    process.stderr.write(`sc-server admin ${group}: ${msg}\n`);
    return code;
  };
  if (extra !== undefined) return fail(`unexpected argument "${extra}"`, 2);
  try {
    if (group === 'backup') {
      if (!v.out) return fail('--out DIR is required (a new directory for the backup)', 2);
      const m = await backupDataDir(dir, resolve(v.out), VERSION);
      process.stdout.write(`backup of ${dir} written to ${resolve(v.out)} (${m.files.join(', ')})\n`);
    } else {
      if (!v.from) return fail('--from DIR is required (a directory written by "sc-server admin backup")', 2);
      const m = await restoreDataDir(resolve(v.from), dir, v.force === true);
      process.stdout.write(
        `restored ${resolve(v.from)} (made ${m.created_at} by ${m.version}) into ${dir}\n`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof BackupError) return fail(err.message, 1);
    const e = err as NodeJS.ErrnoException;
    if (e.code && e.code !== 'ERR_ASSERTION') return fail(e.message, 1);
    throw err;
  }
}
