import { describe, expect, it } from 'vitest';
import { EndedQueue } from '../../src/discovery/ended-queue.js';
import { harness } from '../helpers/discovered-model.js';

const A = Object.freeze({ team: 'a' });
const B = Object.freeze({ team: 'b' });
const MIN = 60_000;

describe('discovery: one cap per source, one eviction rule', () => {
  it('at a full cap of active ones a new one is refused and counted (logged once); once one ends, it makes room', () => {
    const h = harness({ room: { cap: 2, forgetAfterMs: 10 * MIN } });
    expect(h.d.discover('s1', A, 'room')).toBe('added');
    expect(h.d.discover('s2', A, 'room')).toBe('added');
    expect(h.d.discover('s3', A, 'room')).toBe('full');
    expect(h.d.discover('s4', A, 'room')).toBe('full');
    expect(h.d.refused('room')).toBe(2);
    expect(h.logs.filter((l) => l.msg === 'probe.max_room_streams reached: new ones are refused until a watched one ends')).toHaveLength(1);
    expect([...h.watching.keys()]).toEqual(['s1', 's2']);

    h.end('s2', 1000);
    expect(h.d.discover('s3', A, 'room')).toBe('added');
    expect([...h.watching.keys()]).toEqual(['s1', 's3']);
    expect(h.logs.find((l) => l.msg === 'forgetting the longest-closed discovered stream to make room')).toMatchObject({ stream_id: 's2', source: 'room' });
    // Something left: the next refusal is logged again.
    expect(h.d.discover('s4', A, 'room')).toBe('full');
    expect(h.logs.filter((l) => String(l.msg).endsWith('refused until a watched one ends'))).toHaveLength(2);
  });

  it('the one that ended longest ago goes first, whatever the order they were found or ended in; one that came back is active again', () => {
    const h = harness({ callback: { cap: 4, forgetAfterMs: 60 * MIN } });
    for (const id of ['a', 'b', 'c', 'd']) h.d.discover(id, A, 'callback');
    h.end('c', 3000);
    h.end('a', 5000);
    h.end('d', 1000);
    h.end('b', 2000);
    h.revive('d');
    const order: string[] = [];
    for (const id of ['n1', 'n2', 'n3', 'n4']) {
      const before = new Set(h.watching.keys());
      expect(h.d.discover(id, A, 'callback')).toBe(order.length < 3 ? 'added' : 'full');
      order.push(...[...before].filter((x) => !h.watching.has(x)));
    }
    expect(order).toEqual(['b', 'c', 'a']);
    expect(h.watching.has('d')).toBe(true);
  });

  it('a lower cap forgets ended ones, oldest first, never an active one; the active ones over it go as they end', () => {
    const h = harness({ room: { cap: 5, forgetAfterMs: 60 * MIN } });
    for (const id of ['a', 'b', 'c', 'd', 'e']) h.d.discover(id, A, 'room');
    h.end('b', 2000);
    h.end('d', 1000);
    h.settings.room = { cap: 2, forgetAfterMs: 60 * MIN };
    h.configure();
    expect([...h.watching.keys()]).toEqual(['a', 'c', 'e']);
    expect(h.d.discover('f', A, 'room')).toBe('full');
    h.end('c', 9000);
    expect([...h.watching.keys()]).toEqual(['a', 'e']);
    // At the cap again: the next one to end stays, until forget_after or a newcomer needs its place.
    h.end('e', 9500);
    expect([...h.watching.keys()]).toEqual(['a', 'e']);
    expect(h.d.discover('f', A, 'room')).toBe('added');
    expect([...h.watching.keys()]).toEqual(['a', 'f']);
  });

  it('forget_after is per source: each forgets what ended its own forget_after ago', () => {
    const h = harness({ room: { cap: 10, forgetAfterMs: 10 * MIN }, callback: { cap: 10, forgetAfterMs: MIN } });
    h.d.discover('r', A, 'room');
    h.d.discover('c', A, 'callback');
    h.end('r', 0);
    h.end('c', 0);
    expect(h.d.sweep(MIN - 1)).toBe(0);
    expect(h.d.sweep(MIN)).toBe(1);
    expect([...h.watching.keys()]).toEqual(['r']);
    expect(h.d.sweep(10 * MIN - 1)).toBe(0);
    expect(h.d.sweep(10 * MIN)).toBe(1);
    expect(h.watching.size).toBe(0);
    expect(h.logs.filter((l) => l.msg === 'forgetting a closed discovered stream').map((l) => [l['stream_id'], l['source']])).toEqual([
      ['c', 'callback'],
      ['r', 'room'],
    ]);
  });

  it('ids the config lists are never held, counted, or forgotten; a reload that lists a held one takes it over', () => {
    const h = harness({ room: { cap: 1, forgetAfterMs: MIN } }, ['listed']);
    expect(h.d.discover('listed', A, 'room')).toBe('listed');
    expect(h.d.size('room')).toBe(0);
    expect(h.d.discover('x', A, 'room')).toBe('added');
    h.end('x', 0);
    h.listed.add('x');
    h.configure();
    expect(h.d.size('room')).toBe(0);
    // The config watches it now: discovery neither stops watching it nor forgets it later.
    expect(h.calls.unwatch).toBe(0);
    expect(h.d.sweep(10 * MIN)).toBe(0);
    expect(h.d.discover('y', A, 'room')).toBe('added');
  });

  it('both sources through one set: the first to find a thing gives its labels; when it lets go the other takes over; the last one out stops watching', () => {
    const h = harness({ room: { cap: 10, forgetAfterMs: MIN }, callback: { cap: 10, forgetAfterMs: MIN } });
    expect(h.d.discover('s', A, 'room')).toBe('added');
    expect(h.d.discover('s', B, 'callback')).toBe('added');
    expect(h.watching.get('s')).toEqual({ labels: A, source: 'room' });
    expect(h.d.size('room')).toBe(1);
    expect(h.d.size('callback')).toBe(1);
    // The owner's labels follow; the other's are kept for later.
    const A2 = Object.freeze({ team: 'a2' });
    expect(h.d.discover('s', A2, 'room')).toBe('known');
    expect(h.d.discover('s', Object.freeze({ team: 'b2' }), 'callback')).toBe('known');
    expect(h.watching.get('s')).toEqual({ labels: A2, source: 'room' });
    h.d.forget('s', 'room');
    expect(h.watching.get('s')).toEqual({ labels: { team: 'b2' }, source: 'callback' });
    expect([...h.d.watched()]).toEqual([{ id: 's', labels: { team: 'b2' }, source: 'callback' }]);
    h.d.forget('s', 'callback');
    expect(h.watching.has('s')).toBe(false);
    expect(h.calls.unwatch).toBe(1);
  });

  it('a thing ended before a second source found it is timed from its end, not from the finding', () => {
    const h = harness({ room: { cap: 10, forgetAfterMs: 10 * MIN }, callback: { cap: 10, forgetAfterMs: MIN } });
    h.d.discover('s', A, 'room');
    h.end('s', 0);
    h.d.discover('s', B, 'callback');
    expect(h.d.sweep(MIN)).toBe(1);
    expect(h.d.size('callback')).toBe(0);
    expect(h.watching.get('s')).toEqual({ labels: A, source: 'room' });
  });

  it('a source turned off forgets all it held, active or not, and takes nothing new', () => {
    const h = harness({ callback: { cap: 10, forgetAfterMs: MIN } });
    h.d.discover('a', A, 'callback');
    h.d.discover('b', A, 'callback');
    h.settings.callback = null;
    h.configure();
    expect(h.watching.size).toBe(0);
    expect(h.d.discover('c', A, 'callback')).toBe('off');
    expect(h.d.refused('callback')).toBe(0);
  });

  it('each discovery costs the same few hook calls at 1k and at 10k held, at a full cap too (no pass over the others)', () => {
    const perDiscovery = (n: number): number => {
      const h = harness({ room: { cap: n, forgetAfterMs: 60 * MIN } });
      for (let i = 0; i < n; i++) h.d.discover(`s${i}`, A, 'room');
      // Half of them ended, in an order unlike the finding order.
      for (let i = 0; i < n; i += 2) h.end(`s${i}`, (i * 7919) % n);
      const before = h.calls.endedAt + h.calls.watch + h.calls.unwatch;
      for (let i = 0; i < 400; i++) expect(h.d.discover(`new${i}`, A, 'room')).toBe('added');
      return (h.calls.endedAt + h.calls.watch + h.calls.unwatch - before) / 400;
    };
    const small = perDiscovery(1_000);
    const large = perDiscovery(10_000);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(3);
  });
});

describe('EndedQueue', () => {
  it('hands out the earliest end first, skips what changed since it was queued, and drops stale nodes once they outnumber the live ones', () => {
    type Item = { id: string; endedAt: number | null; gen: number };
    const q = new EndedQueue<Item>();
    const items = Array.from({ length: 100 }, (_, i): Item => ({ id: `i${i}`, endedAt: 1000 - i, gen: 0 }));
    for (const it of items) q.push(it);
    expect(q.peek()?.id).toBe('i99');
    items[99]!.gen++;
    items[98]!.endedAt = null;
    items[98]!.gen++;
    expect(q.peek()?.id).toBe('i97');
    // Flapping: every item ends again 10 times; the heap keeps only the latest of each once compacted.
    for (let round = 0; round < 10; round++)
      for (const it of items.slice(0, 97)) {
        it.endedAt = 2000 + round;
        it.gen++;
        q.push(it);
      }
    q.compact(98);
    // i97's node, and the latest of each re-ended one.
    expect(q.length).toBe(98);
    expect(q.peek()?.id).toBe('i97');
  });
});
