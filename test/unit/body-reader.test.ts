import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyBudget } from '../../src/http/body-budget.js';
import { readBody, replyText, type BodyRefusal } from '../../src/http/body-reader.js';

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise((r) => s.close(r));
});

/** A listener that reads every body with readBody and echoes its length; what was refused is recorded. */
async function echo(budget: BodyBudget, maxBytes = 1024): Promise<{ url: string; refused: [BodyRefusal, number, string][] }> {
  const refused: [BodyRefusal, number, string][] = [];
  server = createServer((req, res) =>
    readBody(
      req,
      res,
      { maxBytes, budget, client: 'c', minUpload: { bytesPerSecond: 1024, graceMs: 2000 } },
      { body: (text) => replyText(res, 200, `read ${text.length}`), refused: (why, status, reason) => void refused.push([why, status, reason]) },
    ),
  );
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, refused };
}

describe('readBody (a bounded request body, whatever the protocol on top)', () => {
  it('hands over the whole body with its share of the budget freed, and says nothing was refused', async () => {
    const budget = new BodyBudget(4096, 2048);
    const e = await echo(budget);
    const r = await fetch(e.url, { method: 'POST', body: 'x'.repeat(1000) });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('read 1000\n');
    expect(budget.held).toBe(0);
    expect(e.refused).toEqual([]);
  });

  it('answers a body over the cap 413 itself, closes the connection, and tells the caller why', async () => {
    const budget = new BodyBudget(4096, 2048);
    const e = await echo(budget);
    const r = await fetch(e.url, { method: 'POST', body: 'x'.repeat(1025) });
    expect(r.status).toBe(413);
    expect(r.headers.get('connection')).toBe('close');
    expect(await r.text()).toBe('body larger than 1024 bytes\n');
    expect(e.refused).toEqual([['too_large', 413, 'body larger than 1024 bytes']]);
    expect(budget.held).toBe(0);
  });

  it("answers 503 with Retry-After when the client's share of the budget cannot hold the body", async () => {
    const budget = new BodyBudget(4096, 512);
    const e = await echo(budget);
    const r = await fetch(e.url, { method: 'POST', body: 'x'.repeat(1000) });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    const reason = "this client's request bodies in flight over its 512-byte share; retry later";
    expect(await r.text()).toBe(`${reason}\n`);
    expect(e.refused).toEqual([['overloaded', 503, reason]]);
  });
});
