/**
 * The role table of sc5-behaviour.md section 4 ("Sharing"), cell by cell: who may use and who may stop whose
 * tunnel, shared and not shared, across two teams and two orgs. That table is sc-server's
 * `--team-member-sharing team` setting; test/unit/control-plane/member-sharing.test.ts checks the default.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canShareTunnel,
  canStartTunnel,
  canStopTunnel,
  canUseTunnel,
  tunnelsVisibleTo,
} from '../../../src/server/accounts/permissions.js';
import type { Account, Role } from '../../../src/server/store/types.js';
import { tunnelRecord } from './records.js';

function account(id: string, role: Role, orgId: string, teamIds: string[], disabled = false): Account {
  return { id, username: id, role, orgId, teamIds, createdAt: 0, disabled };
}

const tunnel = tunnelRecord;

// Org o1 with teams A and B; org o2 with team C.
const people = {
  OA: account('OA', 'org_admin', 'o1', []),
  TAa: account('TAa', 'team_admin', 'o1', ['A']),
  MA: account('MA', 'team_member', 'o1', ['A']),
  MA2: account('MA2', 'team_member', 'o1', ['A']),
  SA: account('SA', 'service_account', 'o1', ['A']),
  TAb: account('TAb', 'team_admin', 'o1', ['B']),
  MB: account('MB', 'team_member', 'o1', ['B']),
  X: account('X', 'org_admin', 'o2', []),
  XM: account('XM', 'team_member', 'o2', ['C']),
};
type Who = keyof typeof people;
const actors: Who[] = ['OA', 'TAa', 'MA', 'MA2', 'SA', 'TAb', 'MB', 'X', 'XM'];

/** Row = tunnel owner, columns = actors in the order above. */
const USE_SHARED: Partial<Record<Who, string>> = {
  //    OA TAa MA MA2 SA TAb MB X XM
  OA: ' Y  Y   Y  Y   Y  Y   Y  N N',
  TAa: 'Y  Y   Y  Y   Y  N   N  N N',
  MA: ' Y  Y   Y  Y   Y  N   N  N N',
  TAb: 'Y  N   N  N   N  Y   Y  N N',
  MB: ' Y  N   N  N   N  Y   Y  N N',
  X: '  N  N   N  N   N  N   N  Y Y',
  XM: ' N  N   N  N   N  N   N  Y Y',
};

const STOP: Partial<Record<Who, string>> = {
  //    OA TAa MA MA2 SA TAb MB X XM
  OA: ' Y  N   N  N   N  N   N  N N',
  TAa: 'Y  Y   N  N   N  N   N  N N',
  MA: ' Y  Y   Y  N   N  N   N  N N',
  TAb: 'Y  N   N  N   N  Y   N  N N',
  MB: ' Y  N   N  N   N  Y   Y  N N',
  X: '  N  N   N  N   N  N   N  Y N',
  XM: ' N  N   N  N   N  N   N  Y Y',
};

function row(spec: string): boolean[] {
  const cells = spec.trim().split(/\s+/);
  assert.equal(cells.length, actors.length, `row "${spec}" has ${cells.length} cells`);
  return cells.map((c) => c === 'Y');
}

test('shared tunnels: who may use whose, per the role table', () => {
  for (const [ownerName, spec] of Object.entries(USE_SHARED) as [Who, string][]) {
    const owner = people[ownerName];
    const t = tunnel(owner, 'all');
    row(spec).forEach((expected, i) => {
      const actor = people[actors[i]!];
      assert.equal(
        canUseTunnel(actor, t, owner, 'team'),
        expected,
        `${actor.id} using ${ownerName}'s shared tunnel`,
      );
    });
  }
});

test('tunnels that are not shared are usable by their owner only, admins included', () => {
  for (const ownerName of Object.keys(USE_SHARED) as Who[]) {
    const owner = people[ownerName];
    const t = tunnel(owner, '');
    for (const a of actors) {
      assert.equal(
        canUseTunnel(people[a], t, owner, 'team'),
        a === ownerName,
        `${a} using ${ownerName}'s private tunnel`,
      );
    }
  }
});

test('who may stop whose tunnel, shared or not', () => {
  for (const [ownerName, spec] of Object.entries(STOP) as [Who, string][]) {
    const owner = people[ownerName];
    for (const shared of ['', 'all'] as const) {
      const t = tunnel(owner, shared);
      row(spec).forEach((expected, i) => {
        const actor = people[actors[i]!];
        assert.equal(
          canStopTunnel(actor, t, owner),
          expected,
          `${actor.id} stopping ${ownerName}'s ${shared || 'private'} tunnel`,
        );
      });
    }
  }
});

test('service accounts cannot start or share tunnels; every other role can', () => {
  for (const a of actors) {
    const p = people[a];
    assert.equal(canStartTunnel(p), p.role !== 'service_account', `${a} starting`);
    assert.equal(canShareTunnel(p, 'team'), p.role !== 'service_account', `${a} sharing`);
  }
});

test('a disabled account may do nothing, and its shared tunnels serve no one else', () => {
  const off = account('OFF', 'org_admin', 'o1', ['A'], true);
  const t = tunnel(people.MA, 'all');
  assert.equal(canStartTunnel(off), false);
  assert.equal(canShareTunnel(off, 'team'), false);
  assert.equal(canUseTunnel(off, t, people.MA, 'team'), false);
  assert.equal(canStopTunnel(off, t, people.MA), false);
  assert.equal(canUseTunnel(off, tunnel(off, ''), off, 'team'), false);
  const offOwner = account('OFFM', 'team_member', 'o1', ['A'], true);
  assert.equal(canUseTunnel(people.MA, tunnel(offOwner, 'all'), offOwner, 'team'), false);
  assert.equal(canStopTunnel(people.OA, tunnel(offOwner, 'all'), offOwner), true, 'admins can still stop it');
});

test('a tunnel checked against the wrong owner account is refused', () => {
  const t = tunnel(people.MA, 'all');
  assert.equal(canUseTunnel(people.MA2, t, people.MA2, 'team'), false);
  assert.equal(canStopTunnel(people.OA, t, people.MB), false);
});

test('a member of two teams sees shared tunnels of both', () => {
  const both = account('AB', 'team_member', 'o1', ['A', 'B']);
  assert.equal(canUseTunnel(both, tunnel(people.MA, 'all'), people.MA, 'team'), true);
  assert.equal(canUseTunnel(both, tunnel(people.MB, 'all'), people.MB, 'team'), true);
  assert.equal(canUseTunnel(people.MA, tunnel(both, 'all'), both, 'team'), true);
  assert.equal(canUseTunnel(people.MB, tunnel(both, 'all'), both, 'team'), true);
  assert.equal(canStopTunnel(people.TAb, tunnel(both, ''), both), true);
});

test('tunnelsVisibleTo lists own tunnels and those the account may use', () => {
  const owners = new Map(Object.values(people).map((p) => [p.id, p]));
  const all = [
    tunnel(people.MA, ''),
    tunnel(people.MA, 'all'),
    tunnel(people.MB, 'all'),
    tunnel(people.OA, 'all'),
    tunnel(people.X, 'all'),
  ];
  const ids = (who: Who): string[] => tunnelsVisibleTo(people[who], all, owners, 'team').map((t) => t.id);
  assert.deepEqual(ids('MA'), ['MA-private', 'MA-all', 'OA-all']);
  assert.deepEqual(ids('MA2'), ['MA-all', 'OA-all']);
  assert.deepEqual(ids('OA'), ['MA-all', 'MB-all', 'OA-all']);
  assert.deepEqual(ids('XM'), ['X-all']);
  assert.deepEqual(tunnelsVisibleTo(people.MA, all, new Map(), 'team'), []);
});
