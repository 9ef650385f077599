import { familyHeader, formatLabels, formatValue, sampleName, type Format } from '../metrics/exposition.js';
import { MIX_STOP_REASONS, type MixTaskView } from '../state/mix-tasks.js';

/** One watched task as the renderer reads it. */
export interface MixTaskRow {
  id: string;
  intervalMs: number;
  labels: Readonly<Record<string, string>>;
  view: MixTaskView;
}

const FROM_POLLS = 'From background GetMixTaskInfo calls and mix_start/mix_stop callbacks; scrapes never call the API.';

interface Family {
  name: string;
  help: string;
  value: (t: MixTaskRow) => number | undefined;
}

/** The per-task gauges, in exposition order (names fixed by issue 23). */
const FAMILIES: readonly Family[] = [
  {
    name: 'zego_mix_task_active',
    help: `Whether the stream mixing task runs (1) or not (0); absent until a poll or a callback said. ${FROM_POLLS}`,
    value: (t) => (t.view.running === null ? undefined : t.view.running ? 1 : 0),
  },
  {
    name: 'zego_mix_task_duration_seconds',
    help: `How long the running task has run (GetMixTaskInfo MixDuration, or since its mix_start); absent while not running. ${FROM_POLLS}`,
    value: (t) => t.view.durationSec ?? undefined,
  },
  {
    name: 'zego_mix_task_probe_success',
    help: 'Whether the last GetMixTaskInfo call of the task answered (running or not: 1) or failed (0); absent before the first.',
    value: (t) => (t.view.probeSuccess === null ? undefined : t.view.probeSuccess ? 1 : 0),
  },
  {
    name: 'zego_mix_task_last_success_timestamp_seconds',
    help: 'Unix time the last answered GetMixTaskInfo call of the task was sent (0 = never).',
    value: (t) => (t.view.lastSuccessMs === null ? 0 : t.view.lastSuccessMs / 1000),
  },
  {
    name: 'zego_mix_task_interval_seconds',
    help: 'How often the task is polled with GetMixTaskInfo.',
    value: (t) => t.intervalMs / 1000,
  },
];

const INFO = 'zego_mix_task_info';
const INFO_HELP = "The task's room and output stream, from its mix_start callback; always 1, absent until one arrived.";
const STOPS = 'zego_mix_task_stops_total';
const STOPS_HELP =
  'Runs of the task seen to end, by how: callback (a mix_stop), inputs_gone (polling saw it gone after its room emptied, no mix_stop), unannounced (polling saw it gone while its inputs were live, no mix_stop within the callback retry window: a crash).';

/** Every family of every watched task; tasks are few (hundreds), so rendered on each scrape. */
export function renderMixTasks(tasks: readonly MixTaskRow[], format: Format): string {
  if (tasks.length === 0) return '';
  const labels = tasks.map((t) => ({ task_id: t.id, ...t.labels }));
  let out = '';
  for (const f of FAMILIES) {
    out += familyHeader(f.name, f.help, 'gauge', format);
    tasks.forEach((t, i) => {
      const v = f.value(t);
      if (v !== undefined) out += `${f.name}${formatLabels(labels[i]!)} ${formatValue(v)}\n`;
    });
  }
  let info = '';
  for (const t of tasks) {
    const streamId = t.view.output?.streamId ?? null;
    if (streamId !== null) info += `${INFO}${formatLabels({ task_id: t.id, room_id: t.view.roomId ?? '', output_stream_id: streamId })} 1\n`;
  }
  if (info !== '') out += familyHeader(INFO, INFO_HELP, 'gauge', format) + info;
  out += familyHeader(STOPS, STOPS_HELP, 'counter', format);
  const name = sampleName(STOPS, 'counter', format);
  tasks.forEach((t, i) => {
    for (const reason of MIX_STOP_REASONS) out += `${name}${formatLabels({ ...labels[i]!, reason })} ${t.view.stops[reason]}\n`;
  });
  return out;
}
