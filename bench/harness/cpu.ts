/**
 * CPU time used by an anchor's processes (and their descendants: sshd forks a child per connection), from
 * /proc. On a shared machine req/s moves with other people's load; CPU per request much less, so the report
 * shows both.
 */
import { readdir, readFile } from 'node:fs/promises';

const TICK_MS = 10; // USER_HZ is 100 on Linux

async function stat(pid: number): Promise<{ ppid: number; ticks: number } | undefined> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds used so far by `roots` and every process descended from them. */
export async function cpuMs(roots: number[]): Promise<number> {
  if (roots.length === 0) return 0;
  const all = new Map<number, { ppid: number; ticks: number }>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = await stat(Number(name));
    if (s) all.set(Number(name), s);
  }
  const wanted = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, s] of all) {
      if (!wanted.has(pid) && wanted.has(s.ppid)) {
        wanted.add(pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const pid of wanted) ticks += all.get(pid)?.ticks ?? 0;
  return ticks * TICK_MS;
}
