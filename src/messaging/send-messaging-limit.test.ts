import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  freshWeek,
  grant,
  messageRow,
  outboxRowOf,
  queueReminder,
  sendBasisViolations,
  sendsFor,
  startStandIn,
  workersFor,
  type StandIn,
} from './messaging-fixtures.test-support.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { MESSAGING_LIMIT_REFUSAL } from '../whatsapp/index.js';

/**
 * Parley against the stand-in's messaging-limit tier. Parley paces against the limit it believes a number
 * has (`sending_numbers.messaging_limit`): when that matches Meta's, a send to one recipient too many waits
 * in Parley's outbox and never reaches Meta. When Meta's limit is lower than Parley believes (lowered at
 * Meta, or shared with numbers Parley does not send from), Meta refuses with 131048: the message must not
 * be lost or failed, the number is paused for a person and an alert is raised.
 */
describe.each(DIALECTS)('Parley and the messaging-limit tier on %s', (dialect) => {
  let p: TestParley;
  let standIn: StandIn;
  const HOUR = 3600_000;

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
    standIn = await startStandIn(p);
    await grant(p, p.world.hcps.br1a.id, 'service');
    await grant(p, p.world.hcps.br1b.id, 'service');
  });
  afterAll(async () => {
    await standIn?.close();
    await p?.destroy();
  });
  beforeEach(() => freshWeek(p));
  afterEach(async () => {
    standIn.standalone.sandbox.setMessagingLimit(undefined);
    await p.context.db.deleteFrom('send_controls').execute();
    await p.context.db.updateTable('sending_numbers').set({ messaging_limit: 1000 }).execute();
  });

  const number = () => p.context.config.whatsapp.phoneNumberId;

  it('holds the recipient one too many in its own outbox when it knows the tier: Meta never has to refuse', async () => {
    standIn.standalone.sandbox.setMessagingLimit(1);
    await p.context.db.updateTable('sending_numbers').set({ messaging_limit: 1 }).execute();
    const first = await queueReminder(p, p.world.hcps.br1a.id);
    const second = await queueReminder(p, p.world.hcps.br1b.id);
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    await standIn.release();
    expect(sendsFor(standIn, first)).toHaveLength(1);
    expect(sendsFor(standIn, second)).toHaveLength(0);
    expect(await outboxRowOf(p, second)).toMatchObject({ state: 'pending', attempts: 0 });
    expect((await outboxRowOf(p, second)).last_error).toMatch(/^messaging_limit/);
    expect(await p.context.db.selectFrom('send_controls').selectAll().execute()).toEqual([]);

    // The first recipient leaves the moving window, at Meta and in Parley (which counts the boundary in).
    p.clock.advance(24 * HOUR + 60_000);
    await workers.runOnce();
    await standIn.release();
    expect(sendsFor(standIn, second)).toHaveLength(1);
    expect((await messageRow(p, second)).status).toBe('read');
    expect(await sendBasisViolations(p.context.db)).toEqual([]);
  });

  it('on Meta’s over-limit answer (131048), pauses the number and alerts, keeps the message queued, and sends it once after a person lifts the pause', async () => {
    standIn.standalone.sandbox.setMessagingLimit(1); // Parley still believes 1,000
    const first = await queueReminder(p, p.world.hcps.br1a.id);
    const second = await queueReminder(p, p.world.hcps.br1b.id);
    const workers = workersFor(p, standIn.client);
    const logsBefore = p.logs.length;
    await workers.runOnce();
    await standIn.release();
    expect(sendsFor(standIn, first)).toHaveLength(1);
    expect(sendsFor(standIn, second)).toHaveLength(0);

    // Not failed, not dead-lettered: waiting, with Meta's answer recorded.
    expect((await messageRow(p, second)).status).toBe('queued');
    const row = await outboxRowOf(p, second);
    expect(row.state).toBe('pending');
    expect(row.last_error).toContain(String(MESSAGING_LIMIT_REFUSAL.code));
    const controls = await p.context.db.selectFrom('send_controls').selectAll().execute();
    expect(controls).toEqual([
      expect.objectContaining({ scope: number(), error_code: MESSAGING_LIMIT_REFUSAL.code }),
    ]);
    expect(controls[0]!.reason).toMatch(/limit of new contacts per 24 hours/);
    const alerts = p.logs
      .slice(logsBefore)
      .map((l) => JSON.parse(l) as { alert?: string; code?: number; scope?: string });
    expect(alerts).toContainEqual(expect.objectContaining({ alert: 'pause_number', code: 131048 }));
    const audit = await p.context.db
      .selectFrom('audit_events')
      .select(['action', 'target_id'])
      .where('action', '=', 'sending_number.paused')
      .execute();
    expect(audit).toContainEqual({ action: 'sending_number.paused', target_id: number() });

    // Paused: later rounds send nothing from that number, even once Meta would have room again.
    p.clock.advance(25 * HOUR);
    await workers.runOnce();
    expect(sendsFor(standIn, second)).toHaveLength(0);

    // A person sees the pause, fixes the cause (the tier Parley holds) and lifts it; a rep cannot.
    const admin = { authorization: `Bearer ${await p.world.tokenFor('admin')}` };
    const halts = await p.app.inject({ method: 'GET', url: '/api/outbox/halts', headers: admin });
    expect(halts.json().items).toEqual([
      expect.objectContaining({ scope: number(), errorCode: MESSAGING_LIMIT_REFUSAL.code }),
    ]);
    const lift = (headers: Record<string, string>) =>
      p.app.inject({
        method: 'POST',
        url: `/api/outbox/halts/${number()}/lift`,
        headers,
        payload: { reason: 'tier corrected to what Meta shows' },
      });
    expect((await lift({ authorization: `Bearer ${await p.world.tokenFor('rep1')}` })).statusCode).toBe(403);
    expect((await lift(admin)).statusCode).toBe(200);
    expect((await lift(admin)).statusCode).toBe(404);
    const resumed = await p.context.db
      .selectFrom('audit_events')
      .select(['action', 'target_id', 'reason'])
      .where('action', '=', 'sending_number.resumed')
      .execute();
    expect(resumed).toEqual([
      { action: 'sending_number.resumed', target_id: number(), reason: 'tier corrected to what Meta shows' },
    ]);
    p.clock.advance(2 * 60_000); // a paused row is looked at again a minute later
    await workers.runOnce();
    await workers.runOnce();
    await standIn.release();
    expect(sendsFor(standIn, second)).toHaveLength(1);
    expect((await messageRow(p, second)).status).toBe('read');
    expect(await sendBasisViolations(p.context.db)).toEqual([]);
  });
});
