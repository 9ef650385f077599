import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadConfig, type ConfigError } from '../../src/config/load.js';

/**
 * Every invalid config the reader must refuse, one file each under test/fixtures/config/, mapped to
 * the exact errors it gives: key path, line:column and message. Each fixture's first line is a
 * comment saying what is wrong with it, so positions count from line 2.
 */
const DIR = fileURLToPath(new URL('../fixtures/config/', import.meta.url)).replace(/\/$/, '');
const SECRET = 's3cr3t-value-that-must-not-leak';
/** All digits with a leading zero: converted to a number it no longer reads as the text it came from. */
const CALLBACK_SECRET = '08712368712638712368712638712368';
const ENV = { ZEGO_SERVER_SECRET: SECRET, ZEGO_CALLBACK_SECRET: CALLBACK_SECRET };
/** The secrets, and the digits any number made from the callback secret would print. */
const LEAKS = new RegExp(`${SECRET}|hunter2|${CALLBACK_SECRET}|8712368|8\\.712368`);

type Row = [name: string, errors: ConfigError[], setup?: { env?: NodeJS.ProcessEnv }];

const ROWS: Row[] = [
  ['app-id-missing', [{ path: 'zego.app_id', line: 3, col: 3, message: 'required (your AppID, a uint32)' }]],
  ['app-id-not-uint32', [{ path: 'zego.app_id', line: 3, col: 11, message: 'must be an integer from 1 to 4294967295, got 4294967296' }]],
  [
    'callbacks-every-problem',
    [
      {
        path: 'callbacks.extra',
        line: 10,
        col: 3,
        message:
          'unknown key "extra" (allowed: secret, secret_file, previous_secret, previous_secret_file, path, listen_address, tls, fanout_accept_unsigned, trusted_proxies, discover)',
      },
      { path: 'callbacks.path', line: 8, col: 9, message: '"/metrics" is the exporter\'s own endpoint' },
      { path: 'callbacks.listen_address', line: 9, col: 19, message: 'must be host:port or :port (expected [host]:port, got "nope")' },
      { path: 'callbacks.discover.patterns[0]', line: 12, col: 16, message: 'must be stream id characters (letters, digits, - _) and *' },
      { path: 'callbacks.discover.max_streams', line: 13, col: 18, message: 'must be an integer from 1 to 100000' },
    ],
  ],
  [
    'callbacks-listen-address-port-range',
    [{ path: 'callbacks.listen_address', line: 8, col: 19, message: 'must be host:port or :port (port out of range in ":70000")' }],
  ],
  [
    'callbacks-tls-and-rotation',
    [
      { path: 'callbacks.previous_secret_file', line: 9, col: 25, message: 'set either previous_secret or previous_secret_file, not both' },
      { path: 'callbacks.tls', line: 10, col: 8, message: 'must be off or web_config, got "on"' },
      { path: 'callbacks.fanout_accept_unsigned', line: 11, col: 27, message: 'must be true or false, got "sometimes"' },
    ],
  ],
  ['callbacks-secret-and-secret-file', [{ path: 'callbacks.secret_file', line: 8, col: 16, message: 'set either secret or secret_file, not both' }]],
  ['callbacks-secret-file-missing', [{ path: 'callbacks.secret_file', line: 7, col: 16, message: `cannot read ${DIR}/missing.txt: ENOENT` }]],
  ['endpoint-not-http', [{ path: 'zego.endpoint', line: 5, col: 13, message: 'must be an http or https URL' }]],
  ['env-var-unset', [{ path: 'zego.server_secret', line: 4, col: 18, message: 'environment variable NOPE is not set' }], { env: {} }],
  ['fleet-empty', [{ path: 'fleet.redis_url', line: 7, col: 8, message: 'required: a redis:// or rediss:// URL (e.g. ${REDIS_URL})' }]],
  [
    'fleet-every-problem',
    [
      { path: 'fleet.extra', line: 12, col: 3, message: 'unknown key "extra" (allowed: redis_url, key_prefix, fallback_rate_limit, share_results)' },
      { path: 'fleet.redis_url', line: 8, col: 14, message: 'must be a redis://host:port or rediss://host:port URL (value not shown: it may hold a password)' },
      { path: 'fleet.key_prefix', line: 9, col: 15, message: 'must be 1-64 characters of letters, digits, _ . : -' },
      { path: 'fleet.fallback_rate_limit', line: 10, col: 24, message: "must not exceed zego.rate_limit (30): it is this process's share while Redis is away" },
      { path: 'fleet.share_results', line: 11, col: 18, message: 'must be true or false, got "yes"' },
    ],
  ],
  ['fleet-not-a-mapping', [{ path: 'fleet', line: 7, col: 8, message: 'must be a mapping' }]],
  ['fleet-redis-url-missing', [{ path: 'fleet.redis_url', line: 8, col: 3, message: 'required: a redis:// or rediss:// URL (e.g. ${REDIS_URL})' }]],
  ['interval-bad-duration', [{ path: 'streams[0].interval', line: 7, col: 15, message: 'invalid duration "5x" (use e.g. 500ms, 5s, 1m30s, 1h)' }]],
  ['interval-under-1s', [{ path: 'probe.interval', line: 6, col: 13, message: 'must be from 1s to 24h' }]],
  ['is-test-not-bool', [{ path: 'zego.is_test', line: 5, col: 12, message: 'must be true or false, got "maybe"' }]],
  [
    'label-clashes-instance',
    [{ path: 'streams[0].labels.instance', line: 7, col: 15, message: 'label "instance" clashes with a label the exporter or Prometheus sets' }],
  ],
  [
    'label-clashes-stream-id',
    [{ path: 'streams[0].labels.stream_id', line: 7, col: 15, message: 'label "stream_id" clashes with a label the exporter or Prometheus sets' }],
  ],
  [
    'label-name-invalid',
    [{ path: 'streams[0].labels.1team', line: 7, col: 15, message: 'invalid label name "1team" (letters, digits and _, not starting with a digit or __)' }],
  ],
  [
    'rate-from-env-zero',
    [{ path: 'zego.rate_limit', line: 5, col: 15, message: 'must be above 0 and at most 40 (the API\'s limit per AppID), got "${ZEGO_RATE_LIMIT}"' }],
    { env: { ...ENV, ZEGO_RATE_LIMIT: '0' } },
  ],
  ['rate-over-api-limit', [{ path: 'zego.rate_limit', line: 5, col: 15, message: "must be above 0 and at most 40 (the API's limit per AppID), got 41" }]],
  [
    'rate-over-test-limit',
    [{ path: 'zego.rate_limit', line: 6, col: 15, message: "must be above 0 and at most 10 (the API's limit per AppID in the test environment), got 11" }],
  ],
  ['max-room-streams-negative', [{ path: 'probe.max_room_streams', line: 6, col: 21, message: 'must be an integer from 0 to 100000' }]],
  [
    'room-streams-forget-after',
    [{ path: 'probe.room_streams_forget_after', line: 6, col: 30, message: 'invalid duration "600" (use e.g. 500ms, 5s, 1m30s, 1h)' }],
  ],
  [
    'room-id-bad-and-duplicate',
    [
      {
        path: 'rooms[0]',
        line: 6,
        col: 5,
        message: 'invalid room id "stage one": 1 to 127 bytes of letters, digits and ~!@#$%^&*()_+=-`;\',.<>\\ (no / or space)',
      },
      { path: 'rooms[2].id', line: 8, col: 9, message: 'duplicate room id "lobby" (first listed at line 7)' },
    ],
  ],
  [
    'mix-tasks-every-problem',
    [
      { path: 'mix_tasks[0]', line: 6, col: 5, message: 'invalid mix task id "show one": 1 to 256 printable ASCII characters without spaces' },
      { path: 'mix_tasks[2].id', line: 8, col: 9, message: 'duplicate mix task id "show-2" (first listed at line 7)' },
      { path: 'mix_tasks[3].interval', line: 10, col: 15, message: 'must be from 1s to 24h' },
      { path: 'mix_tasks[4].labels.task_id', line: 12, col: 15, message: 'label "task_id" clashes with a label the exporter or Prometheus sets' },
      {
        path: 'mix_tasks[5].labels.severity',
        line: 14,
        col: 25,
        message: 'mix task "show-5": severity "Critical" must be written "critical": the alert rules match it exactly, case included',
      },
    ],
  ],
  [
    'mix-tasks-not-a-list',
    [
      { path: 'mix_tasks', line: 6, col: 3, message: 'must be a list' },
      { path: 'streams', message: 'required: the list of stream ids to watch' },
    ],
  ],
  [
    'mix-task-rate-over-limit',
    [{ path: 'zego.mix_task_info_rate_limit', line: 5, col: 29, message: "must be above 0 and at most 100 (GetMixTaskInfo's limit per AppID), got 101" }],
  ],
  [
    'mix-task-rate-over-test-limit',
    [
      {
        path: 'zego.mix_task_info_rate_limit',
        line: 6,
        col: 29,
        message: "must be above 0 and at most 10 (GetMixTaskInfo's limit per AppID in the test environment), got 11",
      },
    ],
  ],
  [
    'outputs-every-problem',
    [
      { path: 'outputs[0]', line: 6, col: 5, message: 'must be an http or https URL' },
      {
        path: 'outputs[1]',
        line: 7,
        col: 5,
        message: 'https://cdn.example.com/live/b: the path ends in neither .m3u8 nor .flv: say which it is with kind: hls or kind: flv',
      },
      { path: 'outputs[2].kind', line: 9, col: 11, message: 'must be hls or flv, got "dash"' },
      { path: 'outputs[3].interval', line: 11, col: 15, message: 'must be from 5s to 24h' },
      { path: 'outputs[4].labels.output', line: 13, col: 15, message: 'label "output" clashes with a label the exporter or Prometheus sets' },
      {
        path: 'outputs[6]',
        line: 15,
        col: 5,
        message: 'https://cdn.example.com/live/f.m3u8 is already outputs[5] (line 14): URLs that differ only in the query string are one output',
      },
      { path: 'outputs[7].mix_task', line: 18, col: 15, message: "set stream_id or mix_task, not both: a mix task's output is fed by the task" },
    ],
  ],
  ['outputs-not-a-list', [{ path: 'outputs', line: 7, col: 3, message: 'must be a list' }]],
  [
    'output-discovery-no-hosts',
    [
      {
        path: 'output_discovery.allowed_hosts',
        line: 7,
        col: 3,
        message: 'required: the CDN hosts discovered play URLs may be on, such as ["pull.example-cdn.com"]',
      },
      { path: 'output_discovery.max_outputs', line: 7, col: 16, message: 'must be an integer from 1 to 10000' },
    ],
  ],
  [
    'output-discovery-bad-host',
    [
      {
        path: 'output_discovery.allowed_hosts[0]',
        line: 7,
        col: 19,
        message: 'must be a host name or address (no scheme, port or path), got "https://cdn.example.com/"',
      },
    ],
  ],
  [
    'probe-outputs-limits',
    [
      { path: 'probe.outputs.concurrency', line: 8, col: 18, message: 'must be an integer from 1 to 1024' },
      { path: 'probe.outputs.max_redirects', line: 9, col: 20, message: 'must be an integer from 0 to 3' },
      { path: 'probe.outputs.flv_window', line: 11, col: 17, message: 'must be shorter than probe.outputs.timeout' },
    ],
  ],
  [
    'room-interval-under-10s',
    [{ path: 'rooms[1].interval', line: 8, col: 15, message: 'must be from 10s to 24h (ZEGO answers one stream-list call per room per 10 s)' }],
  ],
  [
    'room-label-room-id',
    [{ path: 'rooms[0].labels.room_id', line: 7, col: 15, message: 'label "room_id" clashes with a label the exporter or Prometheus sets' }],
  ],
  [
    'room-rates-over-limit',
    [
      { path: 'zego.stream_list_rate_limit', line: 5, col: 27, message: "must be above 0 and at most 50 (DescribeSimpleStreamList's limit per AppID), got 51" },
      { path: 'zego.user_num_rate_limit', line: 6, col: 24, message: "must be above 0 and at most 10 (DescribeUserNum's limit per AppID), got 11" },
    ],
  ],
  [
    'rooms-not-a-list',
    [
      { path: 'rooms', line: 5, col: 8, message: 'must be a list' },
      { path: 'streams', message: 'required: the list of stream ids to watch' },
    ],
  ],
  ['secret-and-secret-file', [{ path: 'zego.server_secret_file', line: 5, col: 23, message: 'set either server_secret or server_secret_file, not both' }]],
  ['secret-file-device', [{ path: 'zego.server_secret_file', line: 4, col: 23, message: 'cannot read /dev/zero: not a regular file (a character device)' }]],
  ['secret-file-directory', [{ path: 'callbacks.secret_file', line: 7, col: 16, message: `cannot read ${DIR}: not a regular file (a directory)` }]],
  [
    'secret-in-wrong-keys',
    [
      { path: 'zego.app_id', line: 3, col: 11, message: 'must be an integer from 1 to 4294967295, got "${ZEGO_CALLBACK_SECRET}"' },
      { path: 'zego.is_test', line: 7, col: 12, message: 'must be true or false, got "${ZEGO_CALLBACK_SECRET}"' },
      { path: 'zego.endpoint', line: 8, col: 13, message: 'not a URL: "${ZEGO_CALLBACK_SECRET}"' },
      { path: 'zego.rate_limit', line: 5, col: 15, message: 'must be above 0 and at most 40 (the API\'s limit per AppID), got "${ZEGO_CALLBACK_SECRET}"' },
      { path: 'zego.timeout', line: 6, col: 12, message: 'invalid duration "${ZEGO_CALLBACK_SECRET}" (use e.g. 500ms, 5s, 1m30s, 1h)' },
      { path: 'probe.interval', line: 10, col: 13, message: 'invalid duration "${ZEGO_CALLBACK_SECRET}" (use e.g. 500ms, 5s, 1m30s, 1h)' },
      { path: 'streams[0]', line: 12, col: 5, message: 'invalid stream id "${ZEGO_CALLBACK_SECRET}x!": only letters, digits, "-" and "_" are allowed' },
      { path: 'callbacks.listen_address', line: 15, col: 19, message: 'must be host:port or :port (expected [host]:port, got "${ZEGO_CALLBACK_SECRET}")' },
    ],
  ],
  ['secret-file-missing', [{ path: 'zego.server_secret_file', line: 4, col: 23, message: 'cannot read /definitely/missing: ENOENT' }]],
  ['secret-missing', [{ path: 'zego.server_secret', line: 3, col: 3, message: 'required: server_secret (e.g. ${ZEGO_SERVER_SECRET}) or server_secret_file' }]],
  [
    'several-errors',
    [
      { path: 'zego.app_id', line: 3, col: 11, message: 'must be an integer from 1 to 4294967295, got 0' },
      { path: 'zego.timeout', line: 5, col: 12, message: 'invalid duration "soon" (use e.g. 500ms, 5s, 1m30s, 1h)' },
      { path: 'streams[0]', line: 7, col: 5, message: 'invalid stream id "a b": only letters, digits, "-" and "_" are allowed' },
    ],
  ],
  [
    'severity-mixed-case',
    [
      {
        path: 'streams[0].labels.severity',
        line: 7,
        col: 25,
        message: 'stream "live-main": severity "Critical" must be written "critical": the alert rules match it exactly, case included',
      },
      {
        path: 'streams[1].labels.severity',
        line: 9,
        col: 34,
        message: 'stream "live-backup": severity "WARNING" must be written "warning": the alert rules match it exactly, case included',
      },
    ],
  ],
  [
    'streams-severity',
    [
      {
        path: 'rooms[0].streams_severity',
        line: 7,
        col: 23,
        message: 'streams found in room "show": severity "Critical" must be written "critical": the alert rules match it exactly, case included',
      },
      { path: 'rooms[1].streams_severity', line: 9, col: 23, message: 'must be one of critical, warning, none' },
      { path: 'rooms[2].streams_severity', line: 11, col: 23, message: 'must be a single value' },
      {
        path: 'callbacks.discover.streams_severity',
        line: 16,
        col: 23,
        message: 'streams discovered by callbacks: severity "NONE" must be written "none": the alert rules match it exactly, case included',
      },
    ],
  ],
  ['stream-id-chars', [{ path: 'streams[1]', line: 7, col: 5, message: 'invalid stream id "bad id!": only letters, digits, "-" and "_" are allowed' }]],
  ['stream-id-duplicate', [{ path: 'streams[1].id', line: 7, col: 9, message: 'duplicate stream id "a" (first listed at line 6)' }]],
  [
    'stream-id-prefixed-in-test-env',
    [{ path: 'streams[0]', line: 7, col: 5, message: 'list the bare id: the exporter adds the "zegotest-1234567890-" prefix itself in the test environment' }],
  ],
  ['stream-id-too-long-with-prefix', [{ path: 'streams[0]', line: 7, col: 5, message: 'stream id is longer than 256 bytes with the test-environment prefix' }]],
  ['stream-id-too-long', [{ path: 'streams[0]', line: 6, col: 5, message: 'stream id is longer than 256 bytes' }]],
  ['streams-empty', [{ path: 'streams', line: 5, col: 10, message: 'must list at least one stream' }]],
  [
    'unknown-key',
    [
      {
        path: 'zego.rate',
        line: 5,
        col: 3,
        message:
          'unknown key "rate" (allowed: app_id, server_secret, server_secret_file, endpoint, is_test, rate_limit, stream_list_rate_limit, user_num_rate_limit, mix_task_info_rate_limit, timeout)',
      },
    ],
  ],
  [
    'unknown-section',
    [
      {
        path: 'stream',
        line: 5,
        col: 1,
        message: 'unknown key "stream" (allowed: zego, probe, streams, fleet, callbacks, rooms, mix_tasks, outputs, output_discovery)',
      },
      { path: 'streams', message: 'required: the list of stream ids to watch' },
    ],
  ],
  [
    'user-num-rate-over-test-limit',
    [
      {
        path: 'zego.user_num_rate_limit',
        line: 6,
        col: 24,
        message: "must be above 0 and at most 1 (DescribeUserNum's limit per AppID in the test environment), got 2",
      },
    ],
  ],
  ['yaml-syntax', [{ path: '', line: 4, col: 1, message: 'YAML: Flow sequence in block collection must be sufficiently indented and end with a ]' }]],
];

describe('invalid configs: each fixture gives exactly its errors, with key path and line:col', () => {
  it.each(ROWS)('invalid-%s.yaml', async (name, want, setup) => {
    const file = join(DIR, `invalid-${name}.yaml`);
    const r = await loadConfig(file, setup?.env ?? ENV);
    if (r.ok) throw new Error(`${file} was accepted`);
    expect(r.errors).toEqual(want);
    // Values that are secrets (the ServerSecret, a callback secret, a Redis password) are never quoted.
    for (const e of r.errors) expect(formatConfigError(e, file)).not.toMatch(LEAKS);
  });

  it('has a row for every fixture, and a fixture for every row', () => {
    const files = readdirSync(DIR).filter((f) => f.startsWith('invalid-'));
    expect(files.sort()).toEqual(ROWS.map(([name]) => `invalid-${name}.yaml`).sort());
  });

  it('formats an error as file:line:col: path: message', async () => {
    const file = join(DIR, 'invalid-several-errors.yaml');
    const r = await loadConfig(file, ENV);
    if (r.ok) throw new Error('expected errors');
    expect(
      formatConfigError(
        r.errors.find((e) => e.path === 'zego.timeout')!,
        'config.yaml',
      ),
    ).toBe('config.yaml:5:12: zego.timeout: invalid duration "soon" (use e.g. 500ms, 5s, 1m30s, 1h)');
  });
});
