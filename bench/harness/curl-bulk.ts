/**
 * Bulk transfer with curl, the same client for every anchor: a download of N bytes and a PUT upload of N bytes
 * (from a sparse file, so reading it costs no disk). MB/s = 10^6 bytes per second, over the whole transfer.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../anchors/anchor.js';
import { curlArgs } from '../anchors/probe.js';
import { run } from './processes.js';

export interface BulkResult {
  mbps: number;
  bytes: number;
  seconds: number;
}

export async function sparseFile(dir: string, bytes: number): Promise<string> {
  const path = join(dir, `upload-${bytes}.bin`);
  const fh = await open(path, 'w');
  await fh.truncate(bytes);
  await fh.close();
  return path;
}

const FORMAT = '%{http_code} %{size_download} %{size_upload} %{time_total}';

async function curl(
  args: string[],
  netns: string | undefined,
  dir: 'down' | 'up',
  want: number,
): Promise<BulkResult> {
  // Expect: 100-continue would add a round trip (or a 1 s wait behind proxies that do not answer it).
  const out = await run(
    'curl',
    ['-s', '-o', '/dev/null', '-H', 'Expect:', '--max-time', '300', '-w', FORMAT, ...args],
    {
      netns,
    },
  );
  const [code, down, up, total] = out.trim().split(/\s+/);
  const bytes = Number(dir === 'down' ? down : up);
  if (code !== '200' || bytes !== want)
    throw new Error(`curl ${dir}: status ${code}, ${bytes} of ${want} bytes`);
  const seconds = Number(total);
  return { mbps: bytes / seconds / 1e6, bytes, seconds };
}

export function bulkDownload(
  ep: Pick<Endpoint, 'proxy' | 'url' | 'hostHeader'>,
  bytes: number,
  netns?: string,
): Promise<BulkResult> {
  return curl([...curlArgs(ep), `${ep.url}/bytes/${bytes}`], netns, 'down', bytes);
}

export function bulkUpload(
  ep: Pick<Endpoint, 'proxy' | 'url' | 'hostHeader'>,
  file: string,
  bytes: number,
  netns?: string,
): Promise<BulkResult> {
  return curl([...curlArgs(ep), '-T', file, `${ep.url}/upload`], netns, 'up', bytes);
}
