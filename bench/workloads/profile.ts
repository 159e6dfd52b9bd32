/**
 * Profiles the data path: sc and sc-server run with --cpu-prof under the small-request load, then again under a
 * bulk download, and each .cpuprofile is summarised (top self-time frames, time by area). The raw profiles are
 * kept in .bench-work/profiles/ for flame graphs (Chrome DevTools > Performance, or speedscope).
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Placement } from '../anchors/anchor.js';
import { nodeFlags, startSluice } from '../anchors/sluice.js';
import { bulkDownload } from '../harness/curl-bulk.js';
import { tempDir } from '../harness/processes.js';
import { wrkSmall } from '../harness/wrk.js';
import { summariseProfile, type ProfileSummary } from '../report/cpu-profile.js';

export type ProfileResults = Record<'small' | 'bulk', Record<string, ProfileSummary>>;

export async function profileWorkload(
  place: Placement,
  opts: { seconds: number; bulkBytes: number; keepDir: string },
  log: (l: string) => void,
): Promise<ProfileResults> {
  const out: Partial<ProfileResults> = {};
  for (const kind of ['small', 'bulk'] as const) {
    const dir = await tempDir(`prof-${kind}`);
    nodeFlags.splice(0, nodeFlags.length, '--cpu-prof', `--cpu-prof-dir=${dir}`);
    const ep = await startSluice(place);
    nodeFlags.length = 0;
    if (kind === 'small') await wrkSmall(ep, { dir, seconds: opts.seconds, connections: 64, threads: 2 });
    else await bulkDownload(ep, opts.bulkBytes);
    const pids = ep.pids;
    await ep.stop();
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    const summaries: Record<string, ProfileSummary> = {};
    await mkdir(opts.keepDir, { recursive: true });
    for (const [role, pid] of Object.entries(pids)) {
      const f = files.find((name) => name.includes(`.${pid}.`));
      if (!f) continue;
      summaries[role] = await summariseProfile(join(dir, f));
      await copyFile(join(dir, f), join(opts.keepDir, `${kind}-${role}.cpuprofile`));
      log(
        `profile ${kind} ${role}: ${summaries[role].areas.map((a) => `${a.area} ${a.selfPct}%`).join(', ')}`,
      );
    }
    out[kind] = summaries;
  }
  return out as ProfileResults;
}
