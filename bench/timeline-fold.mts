// What folding imports' timeline chunks into the index's main part costs (docs/benchmarks.md, "Import and
// export on the large world"): folds up to <rows> rows as a running Parley's folder does, and prints the
// time per row and the chunks left. Usage, on a copy of a world an import was written into:
//   node --import tsx bench/timeline-fold.mts sqlite:/tmp/big/copy.db [rows=500000]
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { foldTimelineChunks, listedTimelineChunks } from '../src/engagement/index.js';
import { openStore } from '../src/platform/database/index.js';

const [, , url, rowsText = '500000'] = process.argv;
if (!url) {
  process.stderr.write('usage: node --import tsx bench/timeline-fold.mts <database url> [rows]\n');
  process.exit(2);
}
const store = await openStore(url);
const before = (await listedTimelineChunks(store.db)).length;
const started = performance.now();
const moved = await foldTimelineChunks(store.db, { maxRows: Number(rowsText) });
const ms = performance.now() - started;
const after = (await listedTimelineChunks(store.db)).length;
process.stdout.write(
  `${JSON.stringify({ moved, ms: Math.round(ms), usPerRow: moved ? Number(((ms * 1000) / moved).toFixed(1)) : null, chunksBefore: before, chunksAfter: after })}\n`,
);
await store.close();
