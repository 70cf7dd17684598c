import { describe, expect, it } from 'vitest';
import { newId, newIds } from './ids.js';

describe('ids', () => {
  it('newIds makes ids shaped as newId makes them, unique and in the order they were made', () => {
    const before = newId('int');
    const ids = newIds('int', 5000);
    const after = newId('int');
    expect(ids).toHaveLength(5000);
    for (const id of [before, ...ids, after])
      expect(id).toMatch(/^int_[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    expect(new Set(ids).size).toBe(5000);
    // Time-ordered across both ways of making them: cursors break ties on ids.
    const all = [before, ...ids, after];
    expect([...all].sort()).toEqual(all);
  });

  it('makes no id for a count of none', () => {
    expect(newIds('int', 0)).toEqual([]);
  });
});
