// Writes N interaction lines (JSON Lines) for `parley import interactions`, referencing the HCPs and reps
// of a seeded world: the file of docs/benchmarks.md, "Import and export on the large world".
//   node bench/engagement-import-file.mjs <seeded SQLite file | postgres:// URL> <out.jsonl> <lines> <source>
// Each HCP about lines ÷ HCPs times, times spread over 2025, a call note on one line in ten, an adverse
// event in one note in a hundred. Reads the seeded world's HCPs only (a SQLite file is opened read-only).
import { createWriteStream } from 'node:fs';
import process from 'node:process';
import Database from 'better-sqlite3';
import pg from 'pg';
const [, , world, out, nStr, source] = process.argv;
const N = Number(nStr);
const crm = world.startsWith('postgres') ? await crmIdsOnPostgres(world) : crmIdsOnSqlite(world);
const products = ['Glucora', 'Cardalis', 'Neurovix'];
const topics = ['diabetes', 'safety', 'heart_failure', 'diabetes'];
const w = createWriteStream(out);
let buf = '';
for (let i = 0; i < N; i++) {
  const p = products[i % 3],
    t = topics[i % 4];
  buf +=
    JSON.stringify({
      source,
      externalId: `CALL-${String(i).padStart(8, '0')}`,
      hcpCrmId: crm[(i * 7919) % crm.length],
      channel: i % 3 === 0 ? 'phone' : 'f2f',
      kind: 'call',
      direction: 'outbound',
      occurredAt: new Date(Date.UTC(2025, 0, 1) + ((i * 7) % 31_536_000) * 1000).toISOString(),
      repEmail: `rep${(i % 4) + 1}@parley.test`,
      ...(i % 10 === 0
        ? {
            summary: `Visit ${i}: discussed ${p} and ${t.replace('_', ' ')}${i % 1000 === 0 ? '; my patient developed a rash after starting the new dose' : ''}`,
          }
        : {}),
      topics: [t],
      products: [p],
    }) + '\n';
  if (buf.length > 1 << 20) {
    if (!w.write(buf)) await new Promise((r) => w.once('drain', r));
    buf = '';
  }
}
w.end(buf);

function crmIdsOnSqlite(file) {
  const db = new Database(file, { readonly: true });
  const ids = db.prepare('select crm_id from hcps order by seq').pluck().all();
  db.close();
  return ids;
}

async function crmIdsOnPostgres(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query('select crm_id from hcps order by seq');
  await client.end();
  return rows.map((r) => r.crm_id);
}
