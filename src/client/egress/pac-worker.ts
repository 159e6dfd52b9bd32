/**
 * The PAC sandbox's thread: compiles the script once (pac-resolver on QuickJS compiled to WebAssembly) and answers
 * FindProxyForURL calls. The main thread (pac.ts) owns the deadline and terminates this worker when it passes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';

export interface PacRequest {
  id: number;
  url: string;
  host: string;
}
export type PacReply =
  | { id: number; result: string }
  | { id: number; error: string }
  | { vm: true }
  | { ready: true }
  | { ready: false; error: string };

const port = parentPort!;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function main(): Promise<void> {
  try {
    const data = workerData as { script: string; wasm?: ArrayBuffer };
    // The single executable hands the WebAssembly over (a SEA asset); in the bundled client (CommonJS, no
    // import.meta) quickjs.wasm is copied beside the worker.
    const wasm = data.wasm
      ? new Uint8Array(data.wasm)
      : readFileSync(
          import.meta.url
            ? createRequire(import.meta.url).resolve('quickjs-wasi/quickjs.wasm')
            : join(dirname(__filename), 'quickjs.wasm'),
        );
    const qjs = await QuickJS.create({ wasm });
    // The sandbox exists: from here on the main thread's deadline covers the script alone.
    port.postMessage({ vm: true } satisfies PacReply);
    const find = createPacResolver(qjs, data.script, { filename: 'pac' });
    port.on('message', (req: PacRequest) => {
      find(req.url, req.host).then(
        (result) => port.postMessage({ id: req.id, result: String(result) } satisfies PacReply),
        (err: unknown) => port.postMessage({ id: req.id, error: message(err) } satisfies PacReply),
      );
    });
    port.postMessage({ ready: true } satisfies PacReply);
  } catch (err) {
    port.postMessage({ ready: false, error: message(err) } satisfies PacReply);
  }
}

// Not a top-level await: the bundled client's copy of this file is CommonJS.
void main();
