/**
 * Heap growth for a data path that moves hundreds of MB/s through a small heap (docs/decisions/0007-heap-growth.md).
 *
 * V8 starts a major GC whenever the room left under the old generation's limit is smaller than the young
 * generation. `sc` and a lightly loaded `sc-server` live in 10–20 MB, and a bulk transfer allocates a Buffer per
 * socket read and per HTTP/2 DATA chunk: the young generation grows to its 16 MB maximum, the limit V8 sets after
 * each major GC is only ~15 MB above the live size, so marking starts again at once: one major GC every ~40 ms
 * that frees almost nothing (13.4 -> 12.7 MB), ~30 per GB moved, a third of sc-server's CPU in a download.
 *
 * While the heap is small, the limit is set to 4x the live size (V8's own upper growing factor, used here
 * always), which leaves room for the young generation; past SMALL_HEAP the factor goes back to V8's dynamic
 * choice so a large server does not hold 3x its live size in garbage. `node --initial-old-space-size=64` would do
 * the same but cannot be set from inside the process or through NODE_OPTIONS; the growing factor is read at each
 * major GC, so it can.
 */
import v8 from 'node:v8';

const SMALL_HEAP = 128 * 1024 * 1024;
const SMALL_HEAP_GROWING_PERCENT = 300;
const CHECK_EVERY_MS = 5_000;

let small: boolean | undefined;

function apply(): void {
  const now = v8.getHeapStatistics().used_heap_size < SMALL_HEAP;
  if (now === small) return;
  small = now;
  // 0 is V8's default: the factor chosen from GC speed and mutator utilisation.
  v8.setFlagsFromString(`--heap-growing-percent=${now ? SMALL_HEAP_GROWING_PERCENT : 0}`);
}

/** For `sc run` and `sc-server start`: applies now and re-checks every few seconds (an unref'd timer). */
export function tuneHeapGrowth(): void {
  if (small !== undefined) return;
  apply();
  setInterval(apply, CHECK_EVERY_MS).unref();
}
