import { isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, type Node as YamlNode } from 'yaml';
import { parseDuration } from './duration.js';
import { FileReadError, readRegularFile, SECRET_FILE_MAX_BYTES } from './regular-file.js';

/** A mistake the user can fix, pointing at the key path and, where known, the line:column. */
export interface ConfigError {
  path: string;
  line?: number;
  col?: number;
  message: string;
}

export interface ParseOptions {
  env: NodeJS.ProcessEnv;
  /** Relative secret file paths resolve against this (the config file's folder). */
  baseDir: string;
  readFile?: (path: string) => string;
  /** Streams the file may list; load.ts's MAX_CONFIG_STREAMS unless a test sets a smaller one. */
  maxStreams?: number;
  /** Parse the file as one document even when its streams list could be read a slice at a time (tests compare the two). */
  wholeDocument?: boolean;
  /** Items of the streams list parsed at a time; load.ts's SLICE_ITEMS unless a test sets a smaller one. */
  sliceItems?: number;
}

export type { YamlNode };
/** The keys of a mapping that passed `fields()`, with their value nodes. */
export type Fields = Map<string, YamlNode | null>;

/** The shortest expanded value the second line of defence in err() masks (see there). */
const MIN_MASKED_CHARS = 6;

/**
 * The generic half of the config reader: error collection with line:column, typed reads of YAML
 * nodes with `${VAR}` expansion, and secret files. It knows no section; each section reader in
 * sections/ asks it for the values of its own keys.
 */
export class ConfigReader {
  readonly errors: ConfigError[] = [];
  /** Mistakes that leave the config valid but probably not what was meant (an unknown severity). */
  readonly warnings: ConfigError[] = [];
  /** The content of every secret file read, so the config hash changes when one does. */
  secretFileText = '';
  /** Scalars whose text came (partly) from the environment: their source text, for messages. */
  readonly #expanded = new WeakMap<object, { raw: string; value: string }>();
  /**
   * Where a node's offset lies in the file: the loader parses parts of the text apart (the
   * streams list a slice at a time, load.ts) and sets this while it reads nodes of each part.
   */
  textOffset: (offset: number) => number = (offset) => offset;

  constructor(
    readonly lc: LineCounter,
    readonly opts: ParseOptions,
  ) {}

  pos(node: YamlNode | null | undefined): { line: number; col: number } | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lc.linePos(this.textOffset(offset));
  }

  /**
   * The one way a message quotes a value the user wrote. A value that came from the environment
   * is shown as written (`"${ZEGO_SERVER_SECRET}"`), never as expanded and whatever type it was
   * converted to: a secret put under the wrong key (`app_id: ${ZEGO_CALLBACK_SECRET}`) would
   * otherwise be printed in the error, and the error reaches logs and the answer of /-/reload.
   * Other strings are quoted; numbers as they are.
   */
  shown(node: YamlNode | null | undefined, value: string | number): string {
    const x = node ? this.#expanded.get(node) : undefined;
    if (x) return JSON.stringify(x.raw);
    return typeof value === 'number' ? String(value) : JSON.stringify(value);
  }

  /**
   * An error at `node`'s line:col. Values in `message` must be quoted with shown(); as a second
   * line of defence, any verbatim copy of an expanded value is put back as written.
   */
  err(path: string, node: YamlNode | null | undefined, message: string): void {
    this.errors.push(this.#at(path, node, message));
  }

  /** A warning at `node`'s line:col: reported by --config.check, at start and at reload; the config stays valid. */
  warn(path: string, node: YamlNode | null | undefined, message: string): void {
    this.warnings.push(this.#at(path, node, message));
  }

  #at(path: string, node: YamlNode | null | undefined, message: string): ConfigError {
    const p = this.pos(node);
    const x = node ? this.#expanded.get(node) : undefined;
    // Only values long enough not to occur in the message's own words by chance: `rate_limit: ${R}`
    // with R=0 must not turn "above 0 and at most 40" into "above ${R} and at most 4${R}".
    if (x && x.value.length >= MIN_MASKED_CHARS) message = message.split(x.value).join(x.raw);
    return p ? { path, line: p.line, col: p.col, message } : { path, message };
  }

  /** An error with no node to point at (a required section that is absent). */
  missing(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  /** The keys of a mapping; unknown keys are errors. */
  fields(node: YamlNode | null | undefined, path: string, allowed: readonly string[]): Fields | undefined {
    if (!isMap(node)) {
      this.err(path === '' ? '(top level)' : path, node, 'must be a mapping');
      return undefined;
    }
    const out: Fields = new Map();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const p = path === '' ? key : `${path}.${key}`;
      if (!allowed.includes(key)) {
        this.err(p, keyNode, `unknown key "${key}" (allowed: ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, (pair.value as YamlNode | null) ?? null);
    }
    return out;
  }

  /** A scalar as text; strings get `${VAR}` / `${VAR:-default}` expanded (`$$` is a literal `$`). */
  string(node: YamlNode | null | undefined, path: string): string | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      this.err(path, node, 'must be a single value');
      return undefined;
    }
    if (typeof node.value !== 'string') return String(node.value);
    let failed = false;
    const out = node.value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (m, name: string | undefined, dflt: string | undefined) => {
      if (m === '$$') return '$';
      const v = this.opts.env[name!];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt;
      this.err(path, node, `environment variable ${name} is not set`);
      failed = true;
      return '';
    });
    if (out !== node.value) this.#expanded.set(node, { raw: node.value, value: out });
    return failed ? undefined : out;
  }

  number(node: YamlNode | null | undefined, path: string): number | undefined {
    if (isScalar(node) && typeof node.value === 'number') return node.value;
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(n)) {
      this.err(path, node, `must be a number, got ${this.shown(node, s)}`);
      return undefined;
    }
    return n;
  }

  bool(node: YamlNode | null | undefined, path: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    const s = this.string(node, path);
    if (s === 'true' || s === 'false') return s === 'true';
    if (s !== undefined) this.err(path, node, `must be true or false, got ${this.shown(node, s)}`);
    return undefined;
  }

  duration(node: YamlNode | null | undefined, path: string): number | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    const d = parseDuration(s, this.shown(node, s));
    if (typeof d !== 'number') {
      this.err(path, node, d.error);
      return undefined;
    }
    return d;
  }

  /**
   * A secret file named by `node`, relative to the config file's folder. Returns its absolute path
   * and raw content (the caller trims and judges it). It must be a regular file of at most
   * SECRET_FILE_MAX_BYTES (a FIFO or /dev/zero is refused, not read); anything else is an error
   * naming the path and what is wrong (the system's code, the file type), never the content.
   */
  secretFile(node: YamlNode | null | undefined, path: string): { file: string; content: string } | undefined {
    const p = this.string(node, path);
    if (p === undefined) return undefined;
    const file = isAbsolute(p) ? p : resolve(this.opts.baseDir, p);
    let content: string;
    try {
      content = (this.opts.readFile ?? ((x: string) => readRegularFile(x, SECRET_FILE_MAX_BYTES).toString('utf8')))(file);
    } catch (err) {
      const why = err instanceof FileReadError ? err.reason : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      this.err(path, node, `cannot read ${file}: ${why}`);
      return undefined;
    }
    this.secretFileText += `\0${content}`;
    return { file, content };
  }
}
