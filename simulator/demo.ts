#!/usr/bin/env node
/**
 * `npm run demo`: the simulator with streams that go up and down, and the real exporter process
 * pointed at it. No credentials needed: the demo makes up an AppID and a secret and hands the
 * secret to the exporter through the environment, as a real deployment would. Extra arguments go
 * to the exporter (e.g. `npm run demo -- --web.listen-address=:9999`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHostPort } from '../src/zego/protocol.js';
import { startSimulator } from './index.js';
import { DEMO_ROOM_ID, startRoomDemoScript } from './rooms.js';
import { DEMO_MIX_TASK_ID, startMixDemoScript } from './mix.js';
import { DEMO_OUTPUT_ID, startOutputDemoScript } from './cdn.js';
import { startDemoScript } from './streams.js';

const APP_ID = 1234567890;
const STREAMS = 8;
/**
 * Where the demo's exporter takes ZEGO's callbacks: the path on its main listener (whose port
 * --web.listen-address may change). The one line to edit when callbacks get a listener of their own.
 */
/** The exporter's callback listener (callbacks.listen_address, default :9793). */
const CALLBACK_URL = 'http://127.0.0.1:9793/zego/callback';

async function main(): Promise<void> {
  const secret = randomBytes(16).toString('hex');
  const callbackSecret = randomBytes(16).toString('hex');
  // ZEGO's callbacks for every change (retried on ZEGO's schedule until the exporter is up).
  const listen = parseHostPort(
    process.argv
      .slice(2)
      .find((a) => a.startsWith('--web.listen-address='))
      ?.split('=')[1] ?? ':9792',
  );
  if (!listen.ok) throw new Error(`--web.listen-address: ${listen.message}`);
  const sim = await startSimulator({
    apps: [{ appId: APP_ID, secret }],
    callbacks: { url: CALLBACK_URL, secret: callbackSecret },
  });
  const script = startDemoScript(sim, { count: STREAMS });
  // The demo room (DEMO_ROOM_ID): its streams come and go, its audience moves; the exporter
  // config below watches it under `rooms:` (its streams are found there, not listed).
  const roomScript = startRoomDemoScript(sim);
  // A mix task over the demo room's host whose mixer dies every 5 minutes, with no callback.
  const mixScript = startMixDemoScript(sim, { inputs: ['room-host'], roomId: DEMO_ROOM_ID, outputs: [DEMO_OUTPUT_ID] });
  // What viewers play of that task: its CDN delivery stalls now and then while the host and the task stay up.
  const outputScript = startOutputDemoScript(sim);
  const dir = mkdtempSync(join(tmpdir(), 'zego-demo-'));
  const configFile = join(dir, 'config.yaml');
  const streams = Array.from({ length: STREAMS }, (_, i) => {
    const id = `demo-${i + 1}`;
    return i < 2 ? `  - id: ${id}\n    interval: 2s\n    labels: { severity: critical, team: broadcast }` : `  - id: ${id}\n    labels: { team: events }`;
  });
  writeFileSync(
    configFile,
    `# Written by npm run demo: the built-in simulator at ${sim.url}
zego:
  app_id: ${APP_ID}
  server_secret: \${ZEGO_SERVER_SECRET}
  endpoint: ${sim.url}
  rate_limit: 10
probe:
  interval: 5s
callbacks:
  secret: \${ZEGO_CALLBACK_SECRET}
  path: /zego/callback
streams:
${streams.join('\n')}
  - never-published
rooms:
  - id: ${DEMO_ROOM_ID}
    interval: 10s
    labels: { severity: critical, team: live }
mix_tasks:
  - id: ${DEMO_MIX_TASK_ID}
    interval: 10s
    labels: { team: live }
outputs:
  - url: ${sim.url}/cdn/hls/${DEMO_OUTPUT_ID}.m3u8?token=demo
    mix_task: ${DEMO_MIX_TASK_ID}
    interval: 5s
    severity: critical
  - url: ${sim.url}/cdn/flv/${DEMO_OUTPUT_ID}.flv?token=demo
    mix_task: ${DEMO_MIX_TASK_ID}
    interval: 5s
`,
  );
  console.log(`simulator: ${sim.url}  (streams demo-1..demo-${STREAMS} flip every 20-50 s; control: ${sim.url}/_sim/streams)`);
  console.log(`room:      ${DEMO_ROOM_ID} (host always on, guests come and go, audience 40-260; control: ${sim.url}/_sim/rooms)`);
  console.log(`mix task:  ${DEMO_MIX_TASK_ID} (mixes the room's host; runs 4 min, crashes without a callback, back 1 min later; ${sim.url}/_sim/mix)`);
  console.log(
    `output:    ${sim.url}/cdn/hls/${DEMO_OUTPUT_ID}.m3u8 and /cdn/flv/${DEMO_OUTPUT_ID}.flv (the mix task's output; its delivery stalls 2:00-3:00 of every 5 min while the task runs; ${sim.url}/_sim/outputs)`,
  );
  console.log(`config:    ${configFile}`);
  console.log('exporter:  http://localhost:9792/  and  http://localhost:9792/metrics  (Ctrl-C stops both)\n');

  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, `--config.file=${configFile}`, '--log.format=pretty', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, ZEGO_SERVER_SECRET: secret, ZEGO_CALLBACK_SECRET: callbackSecret },
  });
  const stop = (): void => {
    child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => {
    script.stop();
    roomScript.stop();
    mixScript.stop();
    outputScript.stop();
    void sim.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(code ?? 0);
    });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
