import { describe, expect, it } from 'vitest';
import { renderLanding, type LandingRow, type LandingView } from '../../src/http/landing.js';

function view(rows: LandingRow[], totalStreams = rows.length): LandingView {
  return {
    version: '1',
    startedAt: new Date(1_700_000_000_000),
    endpoint: 'https://rtc-api.zego.im',
    appId: 1,
    isTest: false,
    rateLimit: 10,
    achievableRefreshSec: 5,
    rows,
    totalStreams,
  };
}

function row(i: number, over: Partial<LandingRow> = {}): LandingRow {
  return { id: `s${i}`, state: 'closed', uptimeSec: null, probe: 'failing', lastProbeAgoSec: 1, labels: {}, lastError: null, source: 'config', ...over };
}

describe('landing page bounds', () => {
  it('cuts each API error message to 256 characters: 37 streams with 64 KB messages stay small', () => {
    const huge = `Code 5000: ${'<x>'.repeat(22_000)}`;
    const page = renderLanding(view(Array.from({ length: 37 }, (_, i) => row(i, { lastError: huge }))));
    expect(Buffer.byteLength(page)).toBeLessThan(100_000);
    const small = /<small>(.*?)<\/small>/.exec(page)![1]!;
    expect(small.replace(/&#\d+;/g, 'c').length).toBeLessThanOrEqual(257);
    expect(small.endsWith('…')).toBe(true);
    expect(page).not.toContain('<x>');
  });

  it('caps the rows and the table size, and says how many were shown', () => {
    const many = renderLanding(
      view(
        Array.from({ length: 5000 }, (_, i) => row(i)),
        5000,
      ),
    );
    expect(many.match(/<tr class=/g)).toHaveLength(1000);
    expect(many).toContain('Showing 1000 of 5000 streams');

    const fat = (i: number): LandingRow => row(i, { lastError: '<'.repeat(1000), labels: { team: '<'.repeat(10_000) } });
    const page = renderLanding(view(Array.from({ length: 1000 }, (_, i) => fat(i))));
    expect(Buffer.byteLength(page)).toBeLessThan(1.1 * 1024 * 1024);
    const shown = page.match(/<tr class=/g)!.length;
    expect(shown).toBeLessThan(1000);
    expect(page).toContain(`Showing ${shown} of 1000 streams`);
  });

  it("bounds a part's table (the rooms) like the streams': cells cut and escaped, rows and bytes capped, and says how many were shown", () => {
    const columns = ['Room', 'Labels', 'Streams', 'Users', 'Admins', 'Last success', 'Probe'];
    const fat = (i: number): string[] => [`r${i}<`, 'team='.concat('<'.repeat(10_000)), '1', '2', '0', 'never', 'pending'];
    const rows = Array.from({ length: 1000 }, (_, i) => fat(i));
    const page = renderLanding({ ...view([]), tables: [{ title: 'Rooms', columns, rows, total: 5000 }] });
    expect(page).toContain('<h2>Rooms (5000)</h2>');
    expect(page).toContain('<th>Last success</th>');
    expect(page).not.toMatch(/r\d+</);
    expect(Buffer.byteLength(page)).toBeLessThan(1.1 * 1024 * 1024);
    const shown = page.match(/<tr><td>r\d+/g)!.length;
    expect(shown).toBeLessThan(1000);
    expect(page).toContain(`Showing ${shown} of 5000;`);
    const cell = /<tr><td>[^<]*<\/td><td>([^<]*)<\/td>/.exec(page)![1]!;
    expect(cell.replace(/&#\d+;/g, 'c').length).toBeLessThanOrEqual(257);

    const small = renderLanding({
      ...view([]),
      tables: [{ title: 'Rooms', columns, rows: [['show', 'severity=critical', '1', '3', '1', '2s ago', 'ok']], total: 1 }],
    });
    expect(small).toContain('<tr><td>show</td><td>severity=critical</td><td>1</td><td>3</td><td>1</td><td>2s ago</td><td>ok</td></tr>');
    expect(small).not.toContain('Showing');
  });
});
