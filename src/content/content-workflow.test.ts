import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApprovalProgress, ReviewAction, Reviewer, ReviewSubject } from './content-workflow.js';
import { CONTENT_STATUSES } from './content-model.js';
import {
  approvalMeaning,
  checkReviewStep,
  defaultApprovalCode,
  effectiveStatus,
  expiryInstant,
} from './content-workflow.js';

const now = new Date('2026-03-10T12:00:00.000Z');
const brand: Reviewer = { id: 'usr_brand', role: 'brand', marketCodes: ['BR'] };
const compliance: Reviewer = { id: 'usr_compliance', role: 'compliance', marketCodes: ['BR', 'ES'] };
const complianceEs: Reviewer = { id: 'usr_compliance_es', role: 'compliance', marketCodes: ['ES'] };
const medical: Reviewer = { id: 'usr_medical', role: 'medical', marketCodes: ['BR'] };
const rep: Reviewer = { id: 'usr_rep', role: 'rep', marketCodes: ['BR'] };
const subject = (status: ReviewSubject['status'], over: Partial<ReviewSubject> = {}): ReviewSubject => ({
  kind: 'template',
  status,
  expiresAt: null,
  authorId: brand.id,
  market: 'BR',
  ...over,
});
const complianceOnly: ApprovalProgress = { requiredRoles: ['compliance'], signatures: [] };
const twoRoles: ApprovalProgress = { requiredRoles: ['compliance', 'medical'], signatures: [] };

describe('the review workflow', () => {
  it.each<[string, ReviewAction, ReviewSubject, Reviewer, ApprovalProgress, string]>([
    ['the author submits a draft for review', 'submit', subject('draft'), brand, complianceOnly, 'in_review'],
    [
      'compliance approves a template in review',
      'approve',
      subject('in_review'),
      compliance,
      complianceOnly,
      'approved',
    ],
    [
      'compliance rejects a template in review',
      'reject',
      subject('in_review'),
      compliance,
      complianceOnly,
      'rejected',
    ],
    [
      'compliance withdraws an approved template',
      'withdraw',
      subject('approved'),
      compliance,
      complianceOnly,
      'withdrawn',
    ],
    ['the author withdraws own draft', 'withdraw', subject('draft'), brand, complianceOnly, 'withdrawn'],
    [
      'the first of two required signatures keeps it in review',
      'approve',
      subject('in_review'),
      compliance,
      twoRoles,
      'in_review',
    ],
    [
      'the last required signature approves it',
      'approve',
      subject('in_review'),
      medical,
      {
        requiredRoles: ['compliance', 'medical'],
        signatures: [{ signerId: compliance.id, role: 'compliance' }],
      },
      'approved',
    ],
  ])('%s', (_name, action, s, who, approval, next) => {
    expect(checkReviewStep(action, s, who, now, approval)).toMatchObject({ ok: true, next });
  });

  it.each<
    [string, ReviewAction, ReviewSubject, Reviewer, ApprovalProgress, 'forbidden' | 'invalid_transition']
  >([
    [
      'an author never approves own work',
      'approve',
      subject('in_review', { authorId: compliance.id }),
      compliance,
      complianceOnly,
      'forbidden',
    ],
    [
      'an author never rejects own work',
      'reject',
      subject('in_review', { authorId: compliance.id }),
      compliance,
      complianceOnly,
      'forbidden',
    ],
    [
      'a role the market does not name cannot approve',
      'approve',
      subject('in_review'),
      medical,
      complianceOnly,
      'forbidden',
    ],
    ['a rep cannot approve', 'approve', subject('in_review'), rep, complianceOnly, 'forbidden'],
    [
      'an approver of another market cannot approve',
      'approve',
      subject('in_review'),
      complianceEs,
      complianceOnly,
      'forbidden',
    ],
    ['only the author submits', 'submit', subject('draft'), medical, complianceOnly, 'forbidden'],
    [
      'a draft cannot be approved before it is submitted',
      'approve',
      subject('draft'),
      compliance,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'an approved template cannot be approved again',
      'approve',
      subject('approved'),
      compliance,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'a rejected template cannot be resubmitted (a new version is made)',
      'submit',
      subject('rejected'),
      brand,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'a template in review cannot be submitted again',
      'submit',
      subject('in_review'),
      brand,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'a superseded template cannot be withdrawn',
      'withdraw',
      subject('superseded'),
      compliance,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'the author cannot withdraw an approved template',
      'withdraw',
      subject('approved'),
      brand,
      complianceOnly,
      'forbidden',
    ],
    [
      'a template whose expiry has passed cannot be approved',
      'approve',
      subject('in_review', { expiresAt: now.toISOString() }),
      compliance,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'an expired template cannot be withdrawn as if approved',
      'withdraw',
      subject('approved', { expiresAt: '2026-03-01T00:00:00.000Z' }),
      compliance,
      complianceOnly,
      'invalid_transition',
    ],
    [
      'the same person cannot sign twice for two roles',
      'approve',
      subject('in_review'),
      compliance,
      {
        requiredRoles: ['compliance', 'medical'],
        signatures: [{ signerId: compliance.id, role: 'medical' }],
      },
      'invalid_transition',
    ],
    [
      'a second signature for a role already signed is refused',
      'approve',
      subject('in_review'),
      { ...compliance, id: 'usr_other' },
      {
        requiredRoles: ['compliance', 'medical'],
        signatures: [{ signerId: compliance.id, role: 'compliance' }],
      },
      'invalid_transition',
    ],
  ])('%s', (_name, action, s, who, approval, code) => {
    expect(checkReviewStep(action, s, who, now, approval)).toMatchObject({ ok: false, code });
  });

  it('never lets an author approve or reject own work, whatever the state, roles or signatures (property)', () => {
    const role = fc.constantFrom('compliance', 'medical', 'brand', 'rep', 'admin');
    fc.assert(
      fc.property(
        fc.constantFrom<ReviewAction>('approve', 'reject'),
        fc.constantFrom(...CONTENT_STATUSES),
        role,
        fc.uniqueArray(role, { minLength: 1, maxLength: 3 }),
        fc.array(fc.record({ signerId: fc.constantFrom('a', 'b', 'usr_x'), role: fc.option(role) }), {
          maxLength: 3,
        }),
        (action, status, actorRole, requiredRoles, signatures) => {
          const author: Reviewer = { id: 'usr_x', role: actorRole, marketCodes: ['BR'] };
          const step = checkReviewStep(action, subject(status, { authorId: 'usr_x' }), author, now, {
            requiredRoles,
            signatures,
          });
          expect(step).toMatchObject({ ok: false, code: 'forbidden' });
        },
      ),
    );
  });

  it('never approves a piece whose expiry has been reached (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (msPast) => {
        const expiresAt = new Date(now.getTime() - msPast).toISOString();
        const step = checkReviewStep(
          'approve',
          subject('in_review', { expiresAt }),
          compliance,
          now,
          complianceOnly,
        );
        expect(step.ok).toBe(false);
      }),
    );
  });

  it('reads an approved piece as expired from the instant its expiry is reached', () => {
    const at = '2026-03-10T12:00:00.000Z';
    expect(effectiveStatus('approved', at, new Date('2026-03-10T11:59:59.999Z'))).toBe('approved');
    expect(effectiveStatus('approved', at, new Date(at))).toBe('expired');
    expect(effectiveStatus('withdrawn', at, new Date(at))).toBe('withdrawn');
    expect(effectiveStatus('approved', null, new Date(at))).toBe('approved');
  });

  it.each([
    ['2026-06-30', 'America/Sao_Paulo', '2026-06-30T03:00:00.000Z'],
    ['2026-06-30', 'Europe/Madrid', '2026-06-29T22:00:00.000Z'],
    ['2026-01-15', 'Europe/Madrid', '2026-01-14T23:00:00.000Z'],
    ['2026-06-30', 'Asia/Kolkata', '2026-06-29T18:30:00.000Z'],
    ['2026-06-30T18:00:00-03:00', 'Europe/Madrid', '2026-06-30T21:00:00.000Z'],
  ])('expires %s at the start of that day in %s (%s)', (input, zone, instant) => {
    expect(expiryInstant(input, zone)).toBe(instant);
  });

  it.each(['30/06/2026', '2026-06-30T18:00:00', 'tomorrow', '2026-13-01'])(
    'does not read %s as an expiry',
    (input) => {
      expect(expiryInstant(input, 'UTC')).toBeUndefined();
    },
  );

  it('words the meaning of a signature as the record keeps it', () => {
    expect(approvalMeaning('BR', 'compliance', ['compliance'])).toBe('approved for use in BR');
    expect(approvalMeaning('BR', 'medical', ['compliance', 'medical'])).toBe(
      'approved for use in BR (medical review)',
    );
    expect(defaultApprovalCode('BR', 'visit_reminder', 3)).toBe('BR-VISIT-REMINDER-V3');
  });
});
