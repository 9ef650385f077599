import { signature } from '../../src/zego/sign.js';
import type { SimClock } from '../../simulator/clock.js';
import type { Envelope } from '../../simulator/api.js';

/** A clock the test moves by hand; wall starts at a fixed instant so Timestamps are reproducible. */
export class FakeClock implements SimClock {
  mono = 0;
  wall = 1_700_000_000_000;
  monoMs = (): number => this.mono;
  wallMs = (): number => this.wall;
  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
  }
}

/** Cycles through the given values; fault outcomes become a function of the list. */
export function scriptedRandom(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

export interface ReqParams {
  appId: number;
  secret: string;
  streamId: string;
  sequence: string | number;
  /** Sent as IsTest (default false, as a production client sends it on every call); omit: ['IsTest'] leaves it out. */
  isTest?: boolean | string;
  nonce?: string;
  timestamp?: number | string;
  /** Overrides the computed signature. */
  signature?: string;
  action?: string;
  version?: string;
  omit?: string[];
}

/** Tiny signed-URL builder over src/zego/sign.ts (the real client lives elsewhere). */
export function apiUrl(base: string, clock: { wall: number }, p: ReqParams): string {
  const nonce = p.nonce ?? '0123456789abcdef';
  const ts = p.timestamp ?? Math.floor(clock.wall / 1000);
  const q = new URLSearchParams({
    Action: p.action ?? 'DescribeRTCStreamState',
    AppId: String(p.appId),
    SignatureNonce: nonce,
    Timestamp: String(ts),
    Signature: p.signature ?? signature(p.appId, nonce, p.secret, Number(ts)),
    SignatureVersion: p.version ?? '2.0',
    StreamId: p.streamId,
    Sequence: String(p.sequence),
  });
  q.set('IsTest', String(p.isTest ?? false));
  for (const k of p.omit ?? []) q.delete(k);
  return `${base}/?${q.toString()}`;
}

export async function call(url: string): Promise<{ status: number; body: Envelope; date: string | null }> {
  const res = await fetch(url);
  const body = (await res.json()) as Envelope;
  return { status: res.status, body, date: res.headers.get('date') };
}

export async function control(base: string, method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { body }) });
  return { status: res.status, json: (await res.json()) as unknown };
}
