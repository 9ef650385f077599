/** A small Dockerfile reader: enough to replay this repo's stages without a Docker engine. */

export interface Instruction {
  op: string;
  /** The raw arguments, continuation lines joined. */
  args: string;
  /** Flags such as --from=build, split off COPY/HEALTHCHECK arguments. */
  flags: Record<string, string>;
  /** The remaining words (COPY sources + destination), or the exec-form array. */
  words: string[];
  exec: string[] | null;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    let rest = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!f) throw new Error(`bad FROM: ${line}`);
      stages.push({ name: f[2] ?? String(stages.length), from: f[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => globalArgs[k] ?? ''), instructions: [] });
      continue;
    }
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      globalArgs[k!] = v ?? '';
      continue;
    }
    const flags: Record<string, string> = {};
    for (;;) {
      const fl = /^--([\w-]+)=(\S+)\s*/.exec(rest);
      if (!fl) break;
      flags[fl[1]!] = fl[2]!;
      rest = rest.slice(fl[0].length);
    }
    let exec: string[] | null = null;
    const body = op === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/, '') : rest;
    if (body.startsWith('[')) exec = JSON.parse(body) as string[];
    const ins: Instruction = { op, args: rest, flags, words: rest.split(/\s+/), exec };
    if (stages.length === 0) throw new Error(`${op} before FROM`);
    stages[stages.length - 1]!.instructions.push(ins);
  }
  return { args: globalArgs, stages };
}

export function workdir(stage: Stage): string {
  let dir = '/';
  for (const i of stage.instructions) if (i.op === 'WORKDIR') dir = i.args.startsWith('/') ? i.args : `${dir}/${i.args}`;
  return dir;
}

/** ENV lines as a map (only `KEY=value` pairs; build args expand to `unknown`). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.op === 'ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/\$\{\w+\}/g, 'unknown');
    }
  }
  return env;
}
