import { describe, expect, it } from 'vitest';
import { encodeSseData, SseDecoder } from '../../shared/ui-contract-http';

describe('SseDecoder', () => {
  it('yields the data of complete events across chunk boundaries', () => {
    const decoder = new SseDecoder();
    const frame = encodeSseData({ type: 'queue', items: [] });
    expect(decoder.push(frame.slice(0, 7))).toEqual([]);
    expect(decoder.push(frame.slice(7) + encodeSseData({ n: 2 }).slice(0, 4))).toEqual(['{"type":"queue","items":[]}']);
    expect(decoder.push(encodeSseData({ n: 2 }).slice(4))).toEqual(['{"n":2}']);
  });

  it('skips comments (heartbeats) and joins multi-line data', () => {
    const decoder = new SseDecoder();
    expect(decoder.push(': heartbeat\n\n')).toEqual([]);
    expect(decoder.push('event: x\r\ndata: a\r\ndata:b\r\n\r\n')).toEqual(['a\nb']);
  });
});
