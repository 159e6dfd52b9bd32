/** Store records for in-process permission tests. */
import type { Account, TunnelRecord } from '../../../src/server/store/types.js';

/** A running tunnel named "ci" of `owner`, shared with everyone or not. */
export function tunnelRecord(owner: Account, shared: '' | 'all'): TunnelRecord {
  return {
    id: `${owner.id}-${shared || 'private'}`,
    owner: owner.username,
    ownerId: owner.id,
    name: 'ci',
    status: 'running',
    tunnelPool: false,
    shared,
    metadata: {},
    tunnelDomains: [],
    directDomains: [],
    denyDomains: [],
    tlsResignDomains: [],
    tlsPassthroughDomains: [],
    tokenHash: '',
    creationTime: 0,
    lastConnected: null,
    shutdownTime: null,
    shutdownReason: null,
    userShutdown: null,
  };
}
