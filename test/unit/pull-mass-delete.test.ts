import { describe, expect, it } from 'vitest';
import { checkMassDelete } from '../../main/engine/folder/mass-delete';

describe('mass-delete guard', () => {
  it('trips above 50% of the folder files', () => {
    expect(checkMassDelete(6, 10).tripped).toBe(true);
    expect(checkMassDelete(5, 10).tripped).toBe(false);
  });
  it('trips above 1,000 files whatever the share', () => {
    expect(checkMassDelete(1001, 100_000).tripped).toBe(true);
    expect(checkMassDelete(1000, 100_000).tripped).toBe(false);
  });
  it('does not ask for one or two files of a tiny folder', () => {
    expect(checkMassDelete(1, 1).tripped).toBe(false);
    expect(checkMassDelete(2, 2).tripped).toBe(false);
    expect(checkMassDelete(3, 3).tripped).toBe(true);
  });
  it('says what would happen', () => {
    expect(checkMassDelete(8, 10).reason).toMatch(/delete 8 of 10 local files \(80%\)/);
  });
  it('honours custom thresholds', () => {
    expect(checkMassDelete(3, 10, { massDeletePercent: 20, massDeleteCount: 1000, massDeleteMinCount: 1 }).tripped).toBe(true);
  });
});
