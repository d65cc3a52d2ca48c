import { describe, expect, it } from 'vitest';
import { computeWindow } from '../../renderer/components/virtual-window';

describe('virtual list window', () => {
  it('renders only the visible rows plus overscan', () => {
    const window = computeWindow({ scrollTop: 6000, viewportHeight: 600, rowHeight: 60, count: 100_000, overscan: 5 });
    expect(window).toEqual({ first: 95, last: 114, totalHeight: 6_000_000 });
    expect(window.last - window.first + 1).toBeLessThan(30);
  });

  it('clamps at the top and bottom of the list', () => {
    expect(computeWindow({ scrollTop: -50, viewportHeight: 300, rowHeight: 50, count: 100, overscan: 2 })).toMatchObject({ first: 0, last: 7 });
    expect(computeWindow({ scrollTop: 1e9, viewportHeight: 300, rowHeight: 50, count: 100, overscan: 2 })).toMatchObject({ first: 92, last: 99 });
  });

  it('handles lists shorter than the viewport and empty lists', () => {
    expect(computeWindow({ scrollTop: 0, viewportHeight: 600, rowHeight: 60, count: 3 })).toEqual({ first: 0, last: 2, totalHeight: 180 });
    expect(computeWindow({ scrollTop: 0, viewportHeight: 600, rowHeight: 60, count: 0 })).toEqual({ first: 0, last: -1, totalHeight: 0 });
  });
});
