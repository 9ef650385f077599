import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/discovered-model.js';

/** The two sources the model exercises (the others follow the same rule, row for row). */
type StreamSource = 'room' | 'callback';
const SOURCES: StreamSource[] = ['room', 'callback'];
const LABELS = { room: Object.freeze({ from: 'room' }), callback: Object.freeze({ from: 'callback' }) };

type Op =
  | { op: 'discover'; id: string; source: StreamSource }
  | { op: 'forget'; id: string; source: StreamSource }
  | { op: 'end'; id: string }
  | { op: 'revive'; id: string }
  | { op: 'advance'; ms: number }
  | { op: 'sweep' }
  | { op: 'cap'; source: StreamSource; cap: number }
  | { op: 'list'; id: string; listed: boolean };

const IDS = ['a', 'b', 'c', 'd', 'e', 'f'];
const id = fc.constantFrom(...IDS);
const source = fc.constantFrom<StreamSource>('room', 'callback');
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('discover' as const), id, source }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), id, source }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('end' as const), id }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('revive' as const), id }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'sweep' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cap' as const), source, cap: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('list' as const), id, listed: fc.boolean() }) },
);

describe('discovery rule (property)', () => {
  it('never an active one evicted or forgotten; the longest-ended goes first; a cap is only exceeded by active ones; forget_after per source; watched = what the config lists not, held by some source', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 20, maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (ops, roomCap, callbackCap) => {
          const forgetAfterMs = { room: 60_000, callback: 20_000 };
          const h = harness({
            room: { cap: roomCap, forgetAfterMs: forgetAfterMs.room },
            callback: { cap: callbackCap, forgetAfterMs: forgetAfterMs.callback },
          });
          let now = 0;
          /** Per source, who holds what, in the order they took it (for the owner rule). */
          const firstHeld = new Map<string, StreamSource[]>();
          const held = (s: StreamSource): Set<string> => new Set(h.d.ids(s));
          const endedAt = (x: string): number | null => h.ended.get(x) ?? null;

          for (const o of ops) {
            const before = { room: held('room'), callback: held('callback') };
            const endsBefore = new Map([...h.ended]);
            let result: string | undefined;
            switch (o.op) {
              case 'discover':
                result = h.d.discover(o.id, LABELS[o.source], o.source);
                break;
              case 'forget':
                h.d.forget(o.id, o.source);
                break;
              case 'end':
                if ((h.watching.has(o.id) || h.listed.has(o.id)) && endedAt(o.id) === null) h.end(o.id, now);
                break;
              case 'revive':
                if ((h.watching.has(o.id) || h.listed.has(o.id)) && endedAt(o.id) !== null) h.revive(o.id);
                break;
              case 'advance':
                now += o.ms;
                break;
              case 'sweep':
                h.d.sweep(now);
                break;
              case 'cap':
                h.settings[o.source] = { cap: o.cap, forgetAfterMs: forgetAfterMs[o.source] };
                h.configure();
                break;
              case 'list':
                if (o.listed) h.listed.add(o.id);
                else h.listed.delete(o.id);
                h.configure();
                break;
            }

            for (const s of SOURCES) {
              const after = held(s);
              const cap = h.settings[s]!.cap;
              const gone = [...before[s]].filter((x) => !after.has(x));
              for (const x of gone) {
                // Let go on purpose (forget, or the config listing it), else by the rule: only an ended one.
                if ((o.op === 'forget' && o.id === x && o.source === s) || h.listed.has(x)) continue;
                const end = endsBefore.get(x) ?? (o.op === 'end' && o.id === x ? now : null);
                expect(end, `${x} left ${s} while active (${o.op})`).not.toBeNull();
                if (o.op === 'sweep') expect(now - end!).toBeGreaterThanOrEqual(forgetAfterMs[s]);
                else {
                  // Evicted for room (a newcomer, a lower cap, or one ending over a lower cap): none held ended before it.
                  for (const y of before[s]) {
                    const e = endsBefore.get(y);
                    if (y !== x && e !== undefined && e !== null && !gone.includes(y)) expect(e).toBeGreaterThanOrEqual(end!);
                  }
                }
              }
              // Over the cap only while every one held is active.
              if (after.size > cap) for (const x of after) expect(endedAt(x), `${s} over its cap with ${x} ended`).toBeNull();
              if (o.op === 'discover' && o.source === s && result === 'full') {
                expect(after.size).toBeGreaterThanOrEqual(cap);
                for (const x of after) expect(endedAt(x)).toBeNull();
              }
              if (o.op === 'discover' && o.source === s && result === 'added') expect(after.size).toBeLessThanOrEqual(cap);
            }

            // Owners in the order sources took each id.
            for (const x of IDS) {
              const holders = (firstHeld.get(x) ?? []).filter((s) => h.d.has(x, s));
              for (const s of SOURCES) if (h.d.has(x, s) && !holders.includes(s)) holders.push(s);
              if (holders.length > 0) firstHeld.set(x, holders);
              else firstHeld.delete(x);
              expect(h.listed.has(x) && holders.length > 0, `${x} listed and held`).toBe(false);
              if (holders.length > 0) expect(h.watching.get(x)).toEqual({ labels: LABELS[holders[0]!], source: holders[0] });
              else if (!h.listed.has(x)) expect(h.watching.has(x)).toBe(false);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
