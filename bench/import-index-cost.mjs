// What an imported interaction costs SQLite to write, and how much of it each index is: the experiment of
// docs/benchmarks.md, "Import and export on the large world". Inserts the first <lines> lines of a file of
// `bench/engagement-import-file.mjs` under a new <source>, as `parley import` writes new rows (INSERTs
// that are each a transaction of its own, of 1,000 rows here as this script binds every column, where the
// import binds 13 a row and writes 2,000; the same pragmas and page cache), and prints the INSERTs' and
// the commits' time per row. Checkpoints are left to the end, so that every run pays for its own pages.
// Names after <source> are dropped first: an index, or `trigger:<name>`. WRITE=batched writes as the
// import did before 2026-11-27 evening instead: 500-row INSERTs, ten to a transaction (inside a
// transaction each keeps a statement journal, which SQLite spills to a temporary file past 64 KiB).
// TIMELINE_CHUNK=<rows> (a world migrated to 0034) writes the rows under timeline chunks of their own, a new
// one every <rows> rows, as the import does since then (TIMELINE_CHUNK_BASE=<n> numbers them from n + 1,
// so that runs on one copy use chunks of their own); without it rows go into the index's main part, chunk 0.
//
// It CHANGES THE FILE (rows added, indexes dropped): run it on a copy of a seeded world, never on one in use.
//   cp /tmp/big/parley.db /tmp/big/copy.db
//   node bench/import-index-cost.mjs /tmp/big/copy.db /tmp/big/calls-a.jsonl 200000 try-1
//   node bench/import-index-cost.mjs /tmp/big/copy.db /tmp/big/calls-a.jsonl 200000 try-2 interactions_timeline
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import Database from 'better-sqlite3';

const [, , dbFile, linesFile, nText, source, ...drops] = process.argv;
const n = Number(nText);
const batched = process.env.WRITE === 'batched';
const chunkRows = Number(process.env.TIMELINE_CHUNK ?? 0);
const ROWS_PER_STATEMENT = batched ? 500 : 1_000;
const ROWS_PER_TRANSACTION = batched ? 5_000 : ROWS_PER_STATEMENT;
if (!dbFile || !linesFile || !Number.isInteger(n) || n <= 0 || n % ROWS_PER_STATEMENT !== 0 || !source) {
  process.stderr.write(
    `usage: node bench/import-index-cost.mjs <copy.db> <lines.jsonl> <lines, a multiple of ${ROWS_PER_STATEMENT}> <source> [drop …]\n`,
  );
  process.exit(2);
}

const db = new Database(dbFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('cache_size = -1048576'); // the import's 1 GiB
db.pragma('wal_autocheckpoint = 0');
db.pragma('wal_checkpoint(TRUNCATE)');
for (const name of drops) {
  const [kind, object] = name.startsWith('trigger:') ? ['trigger', name.slice(8)] : ['index', name];
  if (!/^[a-z_0-9]+$/.test(object)) throw new Error(`unexpected name ${object}`);
  db.exec(`drop ${kind} if exists ${object}`);
}

const hcps = new Map(
  db
    .prepare('select crm_id, id, seq from hcps')
    .raw()
    .all()
    .map(([crmId, id, seq]) => [crmId, { id, seq }]),
);
const reps = new Map(db.prepare('select email, id from users').raw().all());
const now = new Date().toISOString();
const importId = `imp_${randomUUID().replaceAll('-', '')}`;
db.prepare(
  `insert into import_runs (id, kind, file_name, status, total_rows, invalid_rows, inserted_rows,
     updated_rows, unchanged_rows, started_at) values (?, 'interactions', ?, 'staging', 0, 0, 0, 0, 0, ?)`,
).run(importId, linesFile, now);

// Each row as the import writes a new one: its line's values, the import's id and times, and the columns
// only WhatsApp's interactions fill left empty.
const records = readFileSync(linesFile, 'utf8')
  .split('\n', n)
  .map((text, i) => {
    const line = JSON.parse(text);
    const hcp = hcps.get(line.hcpCrmId);
    if (!hcp) throw new Error(`line ${i + 1}: no HCP ${line.hcpCrmId} in ${dbFile}`);
    return {
      id: `int_${source}_${i}`,
      source,
      external_id: line.externalId,
      hcp_id: hcp.id,
      hcp_seq: hcp.seq,
      channel: line.channel,
      kind: line.kind,
      direction: line.direction,
      occurred_at: line.occurredAt,
      rep_id: reps.get(line.repEmail) ?? null,
      summary: line.summary ?? null,
      topics_json: JSON.stringify(line.topics ?? []),
      products_json: JSON.stringify(line.products ?? []),
      import_id: importId,
      created_at: now,
      updated_at: now,
      template_id: null,
      asset_ids_json: '[]',
      message_id: null,
      status: null,
      ...(chunkRows
        ? { timeline_chunk: Number(process.env.TIMELINE_CHUNK_BASE ?? 0) + 1 + Math.floor(i / chunkRows) }
        : {}),
    };
  });
const columns = Object.keys(records[0]);
const rows = records.map((r) => columns.map((c) => r[c]));

const one = `(${columns.map(() => '?').join(',')})`;
const insert = db.prepare(
  `insert into interactions (${columns.join(', ')}) values ${Array(ROWS_PER_STATEMENT).fill(one).join(',')}
   on conflict (source, external_id) do nothing`,
);
const begin = db.prepare('begin');
const commit = db.prepare('commit');
let inserting = 0n;
let committing = 0n;
for (let b = 0; b < n; b += ROWS_PER_TRANSACTION) {
  if (batched) begin.run();
  const started = process.hrtime.bigint();
  for (let i = b; i < Math.min(b + ROWS_PER_TRANSACTION, n); i += ROWS_PER_STATEMENT)
    insert.run(rows.slice(i, i + ROWS_PER_STATEMENT).flat());
  const written = process.hrtime.bigint();
  if (batched) commit.run();
  inserting += written - started;
  committing += process.hrtime.bigint() - written;
}
const perRow = (ns) => (Number(ns) / 1000 / n).toFixed(1);
process.stdout.write(
  `${batched ? 'batched, ' : ''}${drops.length ? `without ${drops.join(', ')}` : 'every index'}: ${n} rows, INSERTs ${perRow(inserting)} µs a row, ` +
    `commits ${perRow(committing)} µs a row, in all ${perRow(inserting + committing)} µs a row\n`,
);
db.pragma('wal_checkpoint(TRUNCATE)');
db.close();
