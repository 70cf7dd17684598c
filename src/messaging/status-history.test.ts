import { describe, expect, it } from 'vitest';
import { statusHistoryOf } from './status-history.js';

describe("a message's status history", () => {
  it("puts Meta's whole-second reports after Parley's own steps of the same second, in the life's order", () => {
    const parley = [
      { status: 'queued', at: '2026-11-26T13:56:39.512Z' },
      { status: 'sending', at: '2026-11-26T13:56:39.631Z' },
      { status: 'sent', at: '2026-11-26T13:56:39.702Z' },
    ];
    const meta = [
      { status: 'sent', at: '2026-11-26T13:56:39.000Z' },
      { status: 'delivered', at: '2026-11-26T13:56:39.000Z' },
      { status: 'read', at: '2026-11-26T13:56:41.000Z' },
    ];
    expect(statusHistoryOf(parley, meta).map((s) => s.status)).toEqual([
      'queued',
      'sending',
      'sent',
      'delivered',
      'read',
    ]);
  });

  it('keeps time order across seconds, lists each status once, and ends with a failure that ends the life', () => {
    const history = statusHistoryOf(
      [
        { status: 'queued', at: '2026-11-26T10:00:00.100Z' },
        { status: 'sending', at: '2026-11-26T10:00:05.100Z' },
        { status: 'sent', at: '2026-11-26T10:00:05.300Z' },
      ],
      [
        { status: 'sent', at: '2026-11-26T10:00:05.000Z' },
        { status: 'failed', at: '2026-11-26T10:00:05.000Z', detail: 'Message undeliverable' },
      ],
    );
    expect(history).toEqual([
      { status: 'queued', at: '2026-11-26T10:00:00.100Z' },
      { status: 'sending', at: '2026-11-26T10:00:05.100Z' },
      { status: 'sent', at: '2026-11-26T10:00:05.000Z' },
      { status: 'failed', at: '2026-11-26T10:00:05.000Z', detail: 'Message undeliverable' },
    ]);
  });
});
