/**
 * Callback → /metrics latency: a simulator whose sender posts signed callbacks to the exporter's
 * callback listener, and a scraper that times how long each change takes to show on the main
 * listener. In process (the exporter's parts on real HTTP listeners over loopback).
 */
import { pino } from 'pino';
import { Secret } from '../src/config/secret.js';
import type { Config } from '../src/config/types.js';
import { Exporter } from '../src/exporter.js';
import { startHttpServer, type RunningServer } from '../src/http/server.js';
import { CallbackSender, startSimulator, type Simulator } from '../simulator/index.js';

export const APP_ID = 4242;
const SERVER_SECRET = '0123456789abcdef0123456789abcdef';
export const CALLBACK_SECRET = 'bench-callback-secret';

export interface Harness {
  sim: Simulator;
  exporter: Exporter;
  /** The main listener (/metrics). */
  http: RunningServer;
  /** The callback listener's base URL: callbacks go there, never to the main listener. */
  cbUrl: string;
  sender: CallbackSender;
  stop(): Promise<void>;
}

/** Simulator + exporter (callbacks on their own listener, plain HTTP) + a sender pointed at it. */
export async function startHarness(streams: string[], opts: { intervalMs?: number; retryGapsMs?: number[]; dropRate?: number } = {}): Promise<Harness> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SERVER_SECRET }] });
  const config: Config = {
    zego: {
      appId: APP_ID,
      serverSecret: new Secret(SERVER_SECRET),
      endpoint: sim.url,
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: opts.intervalMs ?? 60_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: streams.map((id) => ({ id, intervalMs: opts.intervalMs ?? 60_000, labels: {} })),
    callbacks: {
      secret: new Secret(CALLBACK_SECRET),
      path: '/zego/callback',
      listenAddress: '127.0.0.1:0',
      listenAddressDefault: false,
      tls: 'off',
      fanoutAcceptUnsigned: false,
    },
  };
  // Info and up only (a callback is logged at debug), read for the callback listener's address.
  let cbUrl = '';
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const l = JSON.parse(line) as { msg?: string; address?: string };
        if (l.msg === 'callbacks listening' && l.address) cbUrl = l.address;
      },
    },
  );
  const exporter = new Exporter({ config, logger, build: { version: 'bench', revision: 'bench' } });
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    handlers: {
      metrics: (f) => exporter.metrics(f),
      ready: () => exporter.ready(),
      landingPage: () => exporter.landingPage(),
      extra: exporter.route,
    },
  });
  await exporter.start();
  const sender = new CallbackSender({
    url: `${cbUrl}/zego/callback`,
    appId: APP_ID,
    secret: CALLBACK_SECRET,
    ...(opts.retryGapsMs ? { retryGapsMs: opts.retryGapsMs } : {}),
    ...(opts.dropRate !== undefined ? { dropRate: opts.dropRate } : {}),
  });
  return {
    sim,
    exporter,
    http,
    cbUrl,
    sender,
    stop: async () => {
      sender.close();
      await exporter.stop(500);
      await http.close(500);
      await sim.close();
    },
  };
}

export async function activeValue(url: string, id: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^zego_stream_active\\{stream_id="${id}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Flips streams n times; each sample is from the change (setStream) to the first scrape showing it. */
export async function measureCallbackLatency(n = 50): Promise<{ p50Ms: number; p99Ms: number; n: number }> {
  const ids = ['bench-1', 'bench-2', 'bench-3', 'bench-4'];
  const h = await startHarness(ids);
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const id = ids[i % ids.length]!;
      const up = Math.floor(i / ids.length) % 2 === 0;
      const nowSec = Math.floor(Date.now() / 1000);
      const state = up ? ({ state: 'active', createTime: nowSec } as const) : ({ state: 'closed', createTime: nowSec - 1, closeTime: nowSec } as const);
      const t0 = performance.now();
      h.sim.setStream(id, state);
      void h.sender.onStream(id, state);
      const deadline = t0 + 5000;
      while ((await activeValue(h.http.url, id)) !== (up ? 1 : 0)) {
        if (performance.now() > deadline) throw new Error(`change of ${id} not visible within 5 s`);
      }
      samples.push(performance.now() - t0);
    }
  } finally {
    await h.stop();
  }
  samples.sort((a, b) => a - b);
  const q = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return { p50Ms: round(q(0.5)), p99Ms: round(q(0.99)), n: samples.length };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
