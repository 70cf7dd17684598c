import type { ParleyContext } from '../context.js';
import { newId } from '../platform/crypto/index.js';
import type { DbOrTx } from '../platform/database/index.js';
import { readConsentFeed, readInteractionFeed, type FeedPage, type FeedPosition } from './export.store.js';
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  backoffDelay,
  deliveryIdOf,
  signDelivery,
} from './sink-delivery.js';

export interface CrmSinkOptions {
  url: string;
  secret: string;
  /** How often to look for new changes when idle. */
  pollMs?: number;
  batchSize?: number;
  /**
   * Only changes at least this old are sent: a transaction that took its timestamp earlier but commits
   * later would otherwise land behind the cursor and be missed. Keep it above the longest write.
   */
  settleMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  /** How long a sink's claim to be the one delivering lasts without renewal. */
  leaseMs?: number;
  random?: () => number;
}

/**
 * The row of `sink_cursors` that says which instance delivers: `position_json` names the holder and
 * `updated_at` is when its claim lapses. Several Parley instances may run the sink; one delivers.
 */
const LEASE = 'crm:lease';

/** Consent first: an opt-out must reach the CRM before anything else waiting. */
const STREAMS = [
  { name: 'consents', type: 'consent', read: readConsentFeed },
  { name: 'interactions', type: 'interaction', read: readInteractionFeed },
] as const;

export interface CrmSink {
  /** Delivers everything pending now; resolves to the number of records sent. Throws on a failed delivery. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

async function loadPosition(db: DbOrTx, stream: string): Promise<FeedPosition | null> {
  const row = await db
    .selectFrom('sink_cursors')
    .select('position_json')
    .where('stream', '=', stream)
    .executeTakeFirst();
  return row ? (JSON.parse(row.position_json) as FeedPosition) : null;
}

async function savePosition(
  db: DbOrTx,
  stream: string,
  position: FeedPosition,
  delivered: number,
  now: string,
) {
  await db
    .insertInto('sink_cursors')
    .values({ stream, position_json: JSON.stringify(position), delivered, updated_at: now })
    .onConflict((oc) =>
      oc.column('stream').doUpdateSet((eb) => ({
        position_json: JSON.stringify(position),
        delivered: eb('sink_cursors.delivered', '+', delivered),
        updated_at: now,
      })),
    )
    .execute();
}

/**
 * The outgoing CRM webhook: every consent entry and every interaction change, in `(time, id)` order per
 * stream (hence in order per HCP), POSTed in signed batches. A batch is retried with backoff until the
 * receiver answers 2xx, and only then does the stored cursor move, so a restart resumes exactly where
 * delivery stopped: nothing skipped, and a batch that was received but not yet recorded comes again with
 * the same `X-Parley-Delivery` id. Any number of instances may run it: a lease in the store lets one deliver.
 */
export function startCrmSink(
  ctx: Pick<ParleyContext, 'db' | 'clock' | 'logger'>,
  options: CrmSinkOptions,
): CrmSink {
  const pollMs = options.pollMs ?? 1000;
  const batchSize = options.batchSize ?? 200;
  const settleMs = options.settleMs ?? 2000;
  const random = options.random ?? Math.random;
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function deliver(
    stream: (typeof STREAMS)[number],
    page: FeedPage<{ id: string }>,
    from: FeedPosition | null,
  ) {
    const first = from ?? ['', ''];
    const deliveryId = deliveryIdOf(stream.name, first, page.position ?? first);
    const body = JSON.stringify({
      deliveryId,
      stream: stream.name,
      events: page.records.map((r) => ({
        eventId: `${r.id}@${(r as { updatedAt?: string; recordedAt?: string }).updatedAt ?? (r as { recordedAt?: string }).recordedAt}`,
        type: stream.type,
        data: r,
      })),
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await fetch(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Parley-CRM-Sink/1',
        [DELIVERY_HEADER]: deliveryId,
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signDelivery(options.secret, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`CRM sink answered ${res.status}`);
  }

  // One drain at a time (the loop's, or a caller's): two would send the same batch twice.
  let queue: Promise<unknown> = Promise.resolve();
  function drain(): Promise<number> {
    const run = queue.then(drainNow, drainNow);
    queue = run.catch(() => undefined);
    return run;
  }

  const holder = JSON.stringify(newId('snk'));
  const leaseMs = options.leaseMs ?? 30_000;

  /** Claims or renews the lease; false while another instance holds it. */
  async function holdLease(): Promise<boolean> {
    const now = ctx.clock.now();
    await ctx.db
      .insertInto('sink_cursors')
      .values({ stream: LEASE, position_json: '""', delivered: 0, updated_at: '' })
      .onConflict((oc) => oc.column('stream').doNothing())
      .execute();
    const claimed = await ctx.db
      .updateTable('sink_cursors')
      .set({ position_json: holder, updated_at: new Date(now.getTime() + leaseMs).toISOString() })
      .where('stream', '=', LEASE)
      .where((eb) => eb.or([eb('position_json', '=', holder), eb('updated_at', '<', now.toISOString())]))
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 1;
  }

  async function drainNow(): Promise<number> {
    if (!(await holdLease())) return 0;
    let sent = 0;
    for (const stream of STREAMS) {
      const key = `crm:${stream.name}`;
      for (;;) {
        if (stopped) return sent;
        const position = await loadPosition(ctx.db, key);
        const until = new Date(ctx.clock.now().getTime() - settleMs).toISOString();
        const page: FeedPage<{ id: string }> = await stream.read(ctx.db, {
          position,
          until,
          limit: batchSize,
        });
        if (page.records.length === 0 || !page.position) break;
        await deliver(stream, page, position);
        await savePosition(ctx.db, key, page.position, page.records.length, ctx.clock.now().toISOString());
        sent += page.records.length;
        if (page.records.length < batchSize) break;
      }
    }
    return sent;
  }

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        await drain();
        failures = 0;
        await sleep(pollMs);
      } catch (error) {
        failures++;
        const delay = backoffDelay(
          failures,
          options.baseBackoffMs ?? 500,
          options.maxBackoffMs ?? 60_000,
          random(),
        );
        ctx.logger.warn(
          {
            err: error instanceof Error ? error.message : String(error),
            attempt: failures,
            retryInMs: delay,
          },
          'CRM sink delivery failed; retrying',
        );
        await sleep(delay);
      }
    }
  })();

  return {
    drain,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      // Hand over at once rather than after the lease lapses.
      await ctx.db
        .updateTable('sink_cursors')
        .set({ updated_at: '' })
        .where('stream', '=', LEASE)
        .where('position_json', '=', holder)
        .execute();
    },
  };
}
