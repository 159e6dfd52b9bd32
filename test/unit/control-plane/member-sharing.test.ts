/**
 * What `sc-server --team-member-sharing` changes in the role table (docs/roles.md): under the default `none` a
 * team member's `--shared all` reaches nobody, org admins included; admins share as before. The `team` setting's
 * full table is checked cell by cell in test/control-plane/permissions.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canShareTunnel,
  canUseTunnel,
  tunnelsVisibleTo,
  type MemberSharing,
} from '../../../src/server/accounts/permissions.js';
import type { Account, Role, TunnelRecord } from '../../../src/server/store/types.js';
import { tunnelRecord } from './records.js';

function account(id: string, role: Role, teamIds: string[], orgId = 'o1'): Account {
  return { id, username: id, role, orgId, teamIds, createdAt: 0, disabled: false };
}

function tunnel(owner: Account, shared: '' | 'all' = 'all'): TunnelRecord {
  return tunnelRecord(owner, shared);
}

const OA = account('OA', 'org_admin', []);
const TA = account('TA', 'team_admin', ['A']);
const MA = account('MA', 'team_member', ['A']);
const MA2 = account('MA2', 'team_member', ['A']);
const SA = account('SA', 'service_account', ['A']);
const everyone = [OA, TA, MA, MA2, SA];

/** Who, besides the owner, may use the owner's `--shared all` tunnel under the setting. */
const reach = (owner: Account, sharing: MemberSharing): string[] =>
  everyone.filter((a) => a !== owner && canUseTunnel(a, tunnel(owner), owner, sharing)).map((a) => a.id);

test('default (none): a team member cannot share; admins share as the seed says', () => {
  assert.equal(canShareTunnel(MA, 'none'), false);
  assert.equal(canShareTunnel(TA, 'none'), true);
  assert.equal(canShareTunnel(OA, 'none'), true);
  assert.equal(canShareTunnel(SA, 'none'), false);
  assert.deepEqual(reach(MA, 'none'), [], 'a team member shares with nobody, org admins included');
  assert.deepEqual(reach(TA, 'none'), ['OA', 'MA', 'MA2', 'SA'], 'a team admin shares with the team');
  assert.deepEqual(reach(OA, 'none'), ['TA', 'MA', 'MA2', 'SA'], 'an org admin shares with every user');
  // The owner always uses its own tunnel.
  assert.equal(canUseTunnel(MA, tunnel(MA), MA, 'none'), true);
});

test('team: a team member shares with the team (and org admins)', () => {
  assert.equal(canShareTunnel(MA, 'team'), true);
  assert.deepEqual(reach(MA, 'team'), ['OA', 'TA', 'MA2', 'SA']);
  assert.deepEqual(reach(TA, 'team'), reach(TA, 'none'), 'admins are not affected by the setting');
  assert.deepEqual(reach(OA, 'team'), reach(OA, 'none'));
});

test('listings follow the setting', () => {
  const owners = new Map(everyone.map((p) => [p.id, p]));
  const all = [tunnel(MA), tunnel(TA), tunnel(MA2, '')];
  const ids = (who: Account, s: MemberSharing): string[] =>
    tunnelsVisibleTo(who, all, owners, s).map((t) => t.id);
  assert.deepEqual(ids(MA2, 'none'), ['TA-all', 'MA2-private']);
  assert.deepEqual(ids(MA2, 'team'), ['MA-all', 'TA-all', 'MA2-private']);
  assert.deepEqual(ids(OA, 'none'), ['TA-all']);
});
