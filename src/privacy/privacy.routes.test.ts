import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHcpByWhatsappNumber } from '../hcps/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { canonicalJson } from './canonical-json.js';
import { erasedName } from './erasure.store.js';
import {
  everyStoredText,
  inbound,
  openEverySealed,
  outbound,
  sharedTemplate,
} from './privacy-fixtures.test-support.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(DIALECTS)('personal-data rights on %s', (dialect) => {
  let p: TestParley;
  let compliance: string;
  let admin: string;
  let rep1: string;
  let templateId: string;

  /** Gives an HCP a life in Parley: consent, preferences, a call, messages both ways, a case. */
  async function liveThrough(
    hcp: { id: string; name: string; whatsappNumber: string | null },
    marker: string,
  ) {
    const consent = await p.app.inject({
      method: 'POST',
      url: `/api/hcps/${hcp.id}/consent`,
      headers: bearer(compliance),
      payload: {
        channel: 'whatsapp',
        purpose: 'service',
        status: 'granted',
        source: 'written_form',
        evidence: `form ${marker}`,
      },
    });
    expect(consent.statusCode).toBe(201);
    const prefs = await p.app.inject({
      method: 'PUT',
      url: `/api/hcps/${hcp.id}/preferences`,
      headers: bearer(rep1),
      payload: {
        preferredChannels: { service: 'whatsapp' },
        contactWindows: [],
        language: 'pt-BR',
        frequencyLimit: { perWeek: 2 },
      },
    });
    expect(prefs.statusCode).toBe(200);
    const call = await p.app.inject({
      method: 'POST',
      url: '/api/interactions',
      headers: bearer(rep1),
      payload: {
        hcpId: hcp.id,
        channel: 'f2f',
        kind: 'call',
        occurredAt: p.clock.now().toISOString(),
        summary: `Call notes ${marker}-call`,
      },
    });
    expect(call.statusCode).toBeLessThan(300);
    await inbound(p, hcp.whatsappNumber!.slice(1), `A paciente teve tontura depois do remédio ${marker}-in`);
    await outbound(p, { hcpId: hcp.id, hcpName: hcp.name, templateId, note: `nota ${marker}-out` });
  }

  beforeAll(async () => {
    p = await startTestParley(dialect);
    compliance = await p.world.tokenFor('compliance');
    admin = await p.world.tokenFor('admin');
    rep1 = await p.world.tokenFor('rep1');
    templateId = await sharedTemplate(p);
    // Two HCPs of one rep (rep1's territory), one template, one case queue (safety).
    await liveThrough(p.world.hcps.br1a, 'ANAMARK');
    await liveThrough(p.world.hcps.br1b, 'BRUNOMARK');
  });
  afterAll(async () => {
    await p.destroy();
  });

  it('describes its four routes in the OpenAPI document', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    const paths = res.json().paths;
    expect(paths['/api/hcps/{id}/export'].get.responses['200']).toBeDefined();
    expect(paths['/api/hcps/{id}/erasure'].post.responses['200']).toBeDefined();
    expect(paths['/api/hcps/{id}/legal-hold'].post).toBeDefined();
    expect(paths['/api/audit/inspection'].get.parameters.map((q: { name: string }) => q.name)).toEqual(
      expect.arrayContaining(['hcpId', 'from', 'to']),
    );
  });

  describe('the access-request export (RELIABILITY 26)', () => {
    it("holds all of one HCP's data and nothing of another HCP who shares a rep, a template and a case queue", async () => {
      const { br1a, br1b } = p.world.hcps;
      const cases = await p.context.db.selectFrom('cases').select(['hcp_id', 'owner_team']).execute();
      expect(cases.filter((c) => c.hcp_id === br1a.id).map((c) => c.owner_team)).toContain('safety');
      expect(cases.filter((c) => c.hcp_id === br1b.id).map((c) => c.owner_team)).toContain('safety');

      const response = await p.app.inject({
        method: 'GET',
        url: `/api/hcps/${br1a.id}/export`,
        headers: bearer(compliance),
      });
      expect(response.statusCode).toBe(200);
      const body = response.json() as { checksum: string; content: Record<string, unknown>; hcpId: string };
      const text = response.body;
      // Everything of Ana: profile opened, both message texts, the call notes, the case verbatim, consent.
      for (const own of [
        br1a.id,
        br1a.name,
        br1a.whatsappNumber!,
        br1a.email!,
        'ANAMARK-in',
        'ANAMARK-out',
        'ANAMARK-call',
        'form ANAMARK',
        'ter_br1',
      ])
        expect(text).toContain(own);
      const content = body.content as {
        messages: unknown[];
        cases: unknown[];
        interactions: unknown[];
        decisions: unknown[];
        trackedLinks: unknown[];
        consent: { ledger: unknown[]; current: unknown[] };
        preferences: unknown;
        audit: { events: unknown[]; personalValues: unknown[] };
      };
      expect(content.messages.length).toBe(2);
      expect(content.cases.length).toBe(1);
      expect(content.decisions.length).toBe(1);
      expect(content.trackedLinks.length).toBe(1);
      expect(content.consent.ledger.length).toBe(1);
      expect(content.preferences).toMatchObject({ frequencyLimit: { perWeek: 2 } });
      expect(content.audit.events.length).toBeGreaterThan(0);
      expect(JSON.stringify(content.audit.personalValues)).toContain(br1a.whatsappNumber!);
      // Nothing of Bruno: no id, name, number (either form), CRM id or text.
      const bruno = await p.context.db
        .selectFrom('messages')
        .select('id')
        .where('hcp_id', '=', br1b.id)
        .execute();
      const brunoCases = await p.context.db
        .selectFrom('cases')
        .select('id')
        .where('hcp_id', '=', br1b.id)
        .execute();
      for (const other of [
        br1b.id,
        br1b.name,
        br1b.whatsappNumber!,
        br1b.whatsappNumber!.slice(1),
        br1b.crmId,
        'BRUNOMARK',
        ...bruno.map((m) => m.id),
        ...brunoCases.map((c) => c.id),
      ])
        expect(text).not.toContain(other);
      // The checksum is the SHA-256 of the content's canonical JSON.
      expect(body.checksum).toBe(createHash('sha256').update(canonicalJson(body.content)).digest('hex'));
      const audited = await p.context.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'hcp.exported')
        .where('subject_id', '=', br1a.id)
        .execute();
      expect(audited).toHaveLength(1);
      expect(audited[0]!.changes_json).toContain(body.checksum);
      expect(audited[0]!.changes_json).not.toContain(br1a.whatsappNumber!);
    });

    it.each([
      ['rep1', 403],
      ['manager', 403],
    ] as const)('is refused to %s (%i)', async (user, status) => {
      const token = await p.world.tokenFor(user);
      const response = await p.app.inject({
        method: 'GET',
        url: `/api/hcps/${p.world.hcps.br1a.id}/export`,
        headers: bearer(token),
      });
      expect(response.statusCode).toBe(status);
    });

    it('gives an admin the whole record but no message text or case verbatim (admins read no bodies)', async () => {
      const response = await p.app.inject({
        method: 'GET',
        url: `/api/hcps/${p.world.hcps.br1a.id}/export`,
        headers: bearer(admin),
      });
      expect(response.statusCode).toBe(200);
      const content = (
        response.json() as {
          content: { messages: Array<{ text: unknown }>; cases: Array<{ verbatim: unknown }> };
        }
      ).content;
      expect(content.messages.length).toBe(2);
      expect(content.messages.every((m) => m.text === null)).toBe(true);
      expect(content.cases.every((c) => c.verbatim === null)).toBe(true);
      expect(response.body).not.toContain('ANAMARK-in');
      expect(response.body).toContain(p.world.hcps.br1a.whatsappNumber!);
    });

    it('answers 404 for an HCP that does not exist', async () => {
      const response = await p.app.inject({
        method: 'GET',
        url: '/api/hcps/hcp_nobody/export',
        headers: bearer(admin),
      });
      expect(response.statusCode).toBe(404);
    });
  });

  describe('the inspection export (RELIABILITY 23)', () => {
    it('gives the same checksum twice for the same conversation and period, and is audited each time', async () => {
      const { br1a, br1b } = p.world.hcps;
      const from = new Date(p.clock.now().getTime() - 3_600_000).toISOString();
      const to = new Date(p.clock.now().getTime() + 1).toISOString();
      p.clock.advance(60_000);
      const url = `/api/audit/inspection?hcpId=${br1a.id}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
      const first = await p.app.inject({ method: 'GET', url, headers: bearer(compliance) });
      p.clock.advance(60_000);
      const second = await p.app.inject({ method: 'GET', url, headers: bearer(compliance) });
      expect(first.statusCode).toBe(200);
      const a = first.json() as {
        checksum: string;
        document: { messages: Array<{ hcpId: string; text: string }>; auditTrail: unknown[] };
      };
      const b = second.json() as typeof a;
      expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(b.checksum).toBe(a.checksum);
      expect(b.document).toEqual(a.document);
      expect(a.checksum).toBe(createHash('sha256').update(canonicalJson(a.document)).digest('hex'));
      expect(a.document.messages.map((m) => m.hcpId)).toEqual([br1a.id, br1a.id]);
      expect(a.document.messages.map((m) => m.text).join(' ')).toContain('ANAMARK-in');
      expect(a.document.auditTrail.length).toBeGreaterThan(0);
      expect(first.body).not.toContain(br1b.id);
      const audited = await p.context.db
        .selectFrom('audit_events')
        .select('changes_json')
        .where('action', '=', 'audit.inspection_exported')
        .execute();
      expect(audited).toHaveLength(2);
      expect(audited.every((e) => e.changes_json.includes(a.checksum))).toBe(true);
    });

    it.each(['admin', 'rep1'] as const)('is refused to %s', async (user) => {
      const token = await p.world.tokenFor(user);
      const url = `/api/audit/inspection?hcpId=${p.world.hcps.br1a.id}&from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z`;
      expect((await p.app.inject({ method: 'GET', url, headers: bearer(token) })).statusCode).toBe(403);
    });

    it('rejects a period that ends before it starts', async () => {
      const url = `/api/audit/inspection?hcpId=${p.world.hcps.br1a.id}&from=2026-12-31T00:00:00Z&to=2026-01-01T00:00:00Z`;
      const response = await p.app.inject({ method: 'GET', url, headers: bearer(compliance) });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'validation_failed' } });
    });
  });

  describe('erasure (RELIABILITY 27)', () => {
    const NUMBER = '+5511955554444';
    const EMAIL = 'eva.teste@example.com.br';
    const NAME = 'Dra. Eva Teste';
    let eva: { id: string; name: string; whatsappNumber: string | null };

    beforeAll(async () => {
      // Eva wrote before Parley knew her number (an unknown contact), then was added to the directory.
      await inbound(p, NUMBER.slice(1), 'Bom dia, aqui é a EVAMARK-early', 'Eva T');
      const created = await p.app.inject({
        method: 'POST',
        url: '/api/hcps',
        headers: bearer(admin),
        payload: {
          name: NAME,
          market: 'BR',
          timeZone: 'America/Sao_Paulo',
          language: 'pt-BR',
          whatsappNumber: NUMBER,
          email: EMAIL,
          specialty: 'Cardiology',
          crmId: 'CRM-EVA',
          territoryIds: ['ter_br1'],
        },
      });
      expect(created.statusCode).toBe(201);
      eva = created.json();
      await liveThrough(eva, 'EVAMARK');
    });

    it('is refused under a legal hold, with the reason recorded, and changes nothing else', async () => {
      const hold = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${eva.id}/legal-hold`,
        headers: bearer(compliance),
        payload: { hold: true, reason: 'litigation 2026-17' },
      });
      expect(hold.statusCode).toBe(200);
      expect(hold.json()).toEqual({ hcpId: eva.id, legalHold: true });
      const unaudited = (texts: Awaited<ReturnType<typeof everyStoredText>>) =>
        texts
          .filter((t) => !t.table.startsWith('audit_'))
          .map((t) => `${t.table}.${t.column}=${t.value}`)
          .sort();
      const before = unaudited(await everyStoredText(p.context.db, p.store.schema));
      const refused = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${eva.id}/erasure`,
        headers: bearer(compliance),
        payload: { reason: 'HCP asked by email on 2026-03-01' },
      });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: 'legal_hold' } });
      const after = unaudited(await everyStoredText(p.context.db, p.store.schema));
      expect(after.filter((x) => !before.includes(x))).toEqual([]);
      expect(after).toEqual(before);
      const refusal = await p.context.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'hcp.erasure_refused')
        .where('subject_id', '=', eva.id)
        .executeTakeFirstOrThrow();
      expect(refusal.reason).toBe('HCP asked by email on 2026-03-01');
      expect(refusal.actor_id).toBe(p.world.users.compliance.id);
      const cleared = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${eva.id}/legal-hold`,
        headers: bearer(compliance),
        payload: { hold: false, reason: 'litigation closed' },
      });
      expect(cleared.json()).toEqual({ hcpId: eva.id, legalHold: false });
      const holdEvents = await p.context.db
        .selectFrom('audit_events')
        .select(['action', 'reason'])
        .where('subject_id', '=', eva.id)
        .where('action', 'like', 'hcp.legal_hold%')
        .orderBy('seq')
        .execute();
      expect(holdEvents).toEqual([
        { action: 'hcp.legal_hold_set', reason: 'litigation 2026-17' },
        { action: 'hcp.legal_hold_cleared', reason: 'litigation closed' },
      ]);
    });

    it('removes her number, email, name and texts from every table, sealed or not, and the chain still verifies', async () => {
      const texts = ['EVAMARK-early', 'EVAMARK-in', 'EVAMARK-out', 'EVAMARK-call'];
      // Before: the data is there (so the scan below would see it).
      const sealedBefore = openEverySealed(await everyStoredText(p.context.db, p.store.schema), (s) =>
        p.context.cipher.open(s),
      );
      expect(sealedBefore.some((s) => s.value.includes(NUMBER))).toBe(true);
      expect(sealedBefore.some((s) => s.value.includes('EVAMARK-early'))).toBe(true);

      const response = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${eva.id}/erasure`,
        headers: bearer(compliance),
        payload: { reason: 'HCP asked by email on 2026-03-01' },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ hcpId: eva.id, removed: { messages: 3, unknownContacts: 1 } });

      // A search by the number finds nothing, and neither does the inbound webhook's look-up.
      const search = await p.app.inject({
        method: 'GET',
        url: `/api/hcps?q=${encodeURIComponent(NUMBER)}`,
        headers: bearer(compliance),
      });
      expect(search.json()).toEqual({ items: [], nextCursor: null });
      expect(await findHcpByWhatsappNumber(p.context.db, p.context, NUMBER.slice(1))).toBeUndefined();

      // No table holds the number, the email, the name or a text in clear ...
      const needles = [NUMBER, NUMBER.slice(1), EMAIL, NAME, ...texts];
      const stored = await everyStoredText(p.context.db, p.store.schema);
      const clear = stored.filter((t) => needles.some((n) => t.value.includes(n)));
      expect(clear).toEqual([]);
      // ... nor sealed: every sealed value in the store, opened.
      const sealed = openEverySealed(stored, (s) => p.context.cipher.open(s)).filter((s) =>
        needles.some((n) => s.value.includes(n)),
      );
      expect(sealed).toEqual([]);

      // The shell stays, pseudonymous; the chain verifies; others keep their data.
      const shell = await p.app.inject({
        method: 'GET',
        url: `/api/hcps/${eva.id}`,
        headers: bearer(compliance),
      });
      expect(shell.json()).toMatchObject({
        name: erasedName(eva.id),
        whatsappNumber: null,
        email: null,
        erased: true,
      });
      expect(await p.context.audit.verify(p.context.db)).toMatchObject({ ok: true });
      const erased = await p.context.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'hcp.erased')
        .executeTakeFirstOrThrow();
      expect(erased).toMatchObject({ subject_id: eva.id, reason: 'HCP asked by email on 2026-03-01' });
      const ana = await p.app.inject({
        method: 'GET',
        url: `/api/hcps/${p.world.hcps.br1a.id}/export`,
        headers: bearer(compliance),
      });
      expect(ana.body).toContain('ANAMARK-in');
    });

    it("leaves an export of the erased HCP that names no one, and no personal value in Parley's logs", async () => {
      const response = await p.app.inject({
        method: 'GET',
        url: `/api/hcps/${eva.id}/export`,
        headers: bearer(compliance),
      });
      expect(response.statusCode).toBe(200);
      // The consent evidence (a document reference) stays: it proves the basis of what was sent.
      for (const gone of [
        NUMBER,
        NUMBER.slice(1),
        EMAIL,
        NAME,
        'EVAMARK-early',
        'EVAMARK-in',
        'EVAMARK-out',
        'EVAMARK-call',
      ])
        expect(response.body).not.toContain(gone);
      expect(response.json()).toMatchObject({
        content: { profile: { name: erasedName(eva.id), erased: true } },
      });
      const logs = p.logs.join('');
      for (const secret of [NUMBER, EMAIL, p.world.hcps.br1a.whatsappNumber!, 'ANAMARK-in', 'EVAMARK-in'])
        expect(logs).not.toContain(secret);
    });

    it('sweeps again when repeated, keeping the first erasure time: a message that raced the first is erased', async () => {
      const first = await p.context.db
        .selectFrom('hcps')
        .select('erased_at')
        .where('id', '=', eva.id)
        .executeTakeFirstOrThrow();
      // An inbound message whose processing looked Eva up just before the erasure committed.
      const raced = await outbound(p, { hcpId: eva.id, hcpName: 'Eva', templateId, note: 'EVAMARK-raced' });
      const again = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${eva.id}/erasure`,
        headers: bearer(admin),
        payload: { reason: 'sweep after a late message' },
      });
      expect(again.statusCode).toBe(200);
      // Her two messages and the late one (the early one went with its unknown-contact row the first time).
      expect(again.json()).toMatchObject({ erasedAt: first.erased_at, removed: { messages: 3 } });
      const row = await p.context.db
        .selectFrom('messages')
        .select(['body_enc', 'parameters_enc', 'provenance_json'])
        .where('id', '=', raced)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ body_enc: null, parameters_enc: null });
      expect(row.provenance_json).not.toContain('EVAMARK-raced');
      expect(await p.context.audit.verify(p.context.db)).toMatchObject({ ok: true });
    });

    it("treats a later message from her number as a stranger's (the webhook's look-up no longer finds her)", async () => {
      await inbound(p, NUMBER.slice(1), 'Olá de novo EVAMARK-after');
      const unknown = await p.context.db.selectFrom('unknown_contacts').select('message_id').execute();
      const messages = await p.context.db
        .selectFrom('messages')
        .select(['id', 'hcp_id'])
        .where(
          'id',
          'in',
          unknown.map((u) => u.message_id),
        )
        .execute();
      expect(messages).toHaveLength(1);
      expect(messages[0]!.hcp_id).toBeNull();
      const hers = await p.context.db
        .selectFrom('messages')
        .select('id')
        .where('hcp_id', '=', eva.id)
        .execute();
      expect(hers.map((m) => m.id)).not.toContain(messages[0]!.id);
    });

    it('is refused to roles other than compliance and admin, and without a reason', async () => {
      const byRep = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${p.world.hcps.br1a.id}/erasure`,
        headers: bearer(rep1),
        payload: { reason: 'not mine to erase' },
      });
      expect(byRep.statusCode).toBe(403);
      const noReason = await p.app.inject({
        method: 'POST',
        url: `/api/hcps/${p.world.hcps.br1a.id}/erasure`,
        headers: bearer(compliance),
        payload: {},
      });
      expect(noReason.statusCode).toBe(400);
    });
  });
});
