import type { Endpoint, Placement } from './anchor.js';

/** No proxy, no tunnel: the physical limit (over a link, plain TCP across it). */
export async function startDirect(place: Placement): Promise<Endpoint> {
  return {
    name: 'direct',
    url: `http://${place.originAddrFromServer}:${place.origin.http}`,
    pids: {},
    stop: async () => {},
  };
}
