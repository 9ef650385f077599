import { startSimulator } from '../simulator/index.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, sleep } from './stats.js';

const APP_ID = 555000222;
const SECRET = 'bench0123456789abcdef0123456789b';

export interface RoomsResult {
  rooms: number;
  intervalSec: number;
  listBudget: number;
  countBudget: number;
  listAcceptedPerSec: number;
  countAcceptedPerSec: number;
  throttled: number;
  roomRuleViolations: number;
  roomsPerCountCall: number;
  /** Stalest room seen (scrape time − its last successful list), and the ideal: max(interval, rooms ÷ list budget). */
  maxStalenessSec: number;
  idealStalenessSec: number;
}

/**
 * The rooms part as a real process against the strict simulator: `rooms` rooms at one interval,
 * each API on its own budget. Accepted calls/s per API against its budget, rate errors, the
 * per-room rule, rooms per DescribeUserNum call, and how stale the stalest room's list gets
 * against the ideal refresh.
 */
export async function roomsBench(rooms: number, intervalSec: number, listBudget: number, countBudget: number, seconds: number): Promise<RoomsResult> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  for (let i = 0; i < rooms; i++) sim.setRoomCounts(`room-${i}`, { userCount: i % 100 });
  for (let i = 0; i < rooms; i += 3) sim.publishInRoom(`room-${i}`, `rs-${i}`);
  const exp = await startExporter(
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  stream_list_rate_limit: ${listBudget}\n  user_num_rate_limit: ${countBudget}\n` +
      `probe:\n  interval: 1h\nrooms:\n${Array.from({ length: rooms }, (_, i) => `  - { id: room-${i}, interval: ${intervalSec}s }`).join('\n')}\n`,
    { env: { S: SECRET }, logLevel: 'info' },
  );
  try {
    const ideal = Math.max(intervalSec, rooms / listBudget);
    await sleep(Math.ceil(ideal * 1000) + 1500);
    sim.resetStats();
    const t0 = Date.now();
    let maxStale = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const m = await scrape(exp.url);
      const at = Date.now() / 1000;
      for (const [k, v] of m) if (k.startsWith('zego_room_last_success_timestamp_seconds{') && v > 0) maxStale = Math.max(maxStale, at - v);
      await sleep(250);
    }
    const elapsed = (Date.now() - t0) / 1000;
    const st = sim.stats();
    return {
      rooms,
      intervalSec,
      listBudget,
      countBudget,
      listAcceptedPerSec: st.apis.DescribeSimpleStreamList.accepted / elapsed,
      countAcceptedPerSec: st.apis.DescribeUserNum.accepted / elapsed,
      throttled: st.apis.DescribeSimpleStreamList.throttled + st.apis.DescribeUserNum.throttled + (st.codes['207'] ?? 0),
      roomRuleViolations: st.roomRuleViolations,
      roomsPerCountCall: st.userNumCalls === 0 ? 0 : st.userNumRooms / st.userNumCalls,
      maxStalenessSec: maxStale,
      idealStalenessSec: ideal,
    };
  } finally {
    await exp.stop();
    await sim.close();
  }
}

export function printRooms(r: RoomsResult): void {
  console.log(
    `rooms       rooms=${r.rooms} interval=${r.intervalSec}s: DescribeSimpleStreamList ${fmt(r.listAcceptedPerSec, 2)}/s of ${r.listBudget} ` +
      `(${fmt((100 * r.listAcceptedPerSec) / r.listBudget)}%), DescribeUserNum ${fmt(r.countAcceptedPerSec, 2)}/s of ${r.countBudget} ` +
      `(${fmt((100 * r.countAcceptedPerSec) / r.countBudget)}%, ${fmt(r.roomsPerCountCall, 2)} rooms a call); rate errors ${r.throttled}, ` +
      `per-room rule violations ${r.roomRuleViolations}; max room staleness ${fmt(r.maxStalenessSec, 2)} s vs ideal ${fmt(r.idealStalenessSec, 2)} s ` +
      `(${fmt(r.maxStalenessSec / r.idealStalenessSec, 2)}×)`,
  );
}
