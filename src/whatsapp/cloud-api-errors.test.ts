import { describe, expect, it } from 'vitest';
import { backoffDelayMs, classifyCloudApiError } from './cloud-api-errors.js';

describe('what Parley does with each Cloud API error', () => {
  it.each([
    [130429, 429, 'retry'],
    [131056, 429, 'retry'],
    [131000, 500, 'retry'],
    [undefined, 502, 'retry'],
    [131047, 400, 'fail'],
    [470, 400, 'fail'],
    [131050, 400, 'fail'],
    [131051, 400, 'fail'],
    [130472, 400, 'fail'],
    [132000, 400, 'fail'],
    [132001, 400, 'fail'],
    [132015, 400, 'fail'],
    [131026, 400, 'fail_unreachable'],
    [131049, 400, 'retry_after_24h'],
    [131048, 400, 'pause_number'],
    [368, 400, 'pause_number'],
    [190, 401, 'halt_all'],
    [999999, 400, 'dead_letter'],
  ] as const)('code %s (HTTP %s) is handled as %s', (code, status, handling) => {
    const c = classifyCloudApiError(code, status);
    expect(c.handling).toBe(handling);
    expect(c.explanation.length).toBeGreaterThan(10);
  });

  it('explains 131048 as either of its causes, a spam restriction or the messaging limit', () => {
    const c = classifyCloudApiError(131048, 400);
    expect(c.handling).toBe('pause_number');
    expect(c.explanation).toMatch(/spam/);
    expect(c.explanation).toMatch(/limit of new contacts per 24 hours/);
  });

  it('explains a closed window in words a rep understands', () => {
    expect(classifyCloudApiError(131047).explanation).toMatch(/24 hours.*template/);
  });
});

describe('backoff with full jitter', () => {
  it('stays within [0, base·2^attempt] and under the cap', () => {
    expect(backoffDelayMs(0, 0.999, 1000)).toBe(999);
    expect(backoffDelayMs(3, 0.5, 1000)).toBe(4000);
    expect(backoffDelayMs(20, 0.999, 1000, 60_000)).toBe(59_940);
    expect(backoffDelayMs(5, 0, 1000)).toBe(0);
  });
});
