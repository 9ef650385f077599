import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** The config file: 10 000 streams with labels take about 1 MiB; four times that is a mistake. */
export const CONFIG_FILE_MAX_BYTES = 4 * 1024 * 1024;
/** A secret file holds one secret (a ServerSecret is 32 characters). */
export const SECRET_FILE_MAX_BYTES = 64 * 1024;
/** `--web.config.file`: a few lines, or a few KiB with PEMs inline (`cert:`, `client_ca:`). */
export const WEB_CONFIG_FILE_MAX_BYTES = 1024 * 1024;
/**
 * A certificate, key or client CA file. A bundle of every public root CA is about 220 KB; the
 * chain actually served has a tighter rule of its own (web-config.ts).
 */
export const TLS_FILE_MAX_BYTES = 1024 * 1024;

/** Why a file was refused: a message naming the file and what is wrong, never its content. */
export class FileReadError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot read ${file}: ${reason}`);
  }
}

/**
 * Reads a config or secret file that must be a regular file of at most `maxBytes`. A FIFO, a
 * socket or a device (`/dev/zero`, a mount mistake, a hostile volume) is refused instead of read:
 * the open is non-blocking, so a FIFO without a writer cannot hang the reader, and at most
 * maxBytes + 1 bytes are ever read, so an endless or growing file costs bounded memory.
 * Throws FileReadError; an open that fails gives the system's code (ENOENT, EACCES, …).
 */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new FileReadError(file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileReadError(file, `not a regular file (${kind(st)})`);
    if (st.size > maxBytes) throw new FileReadError(file, `larger than ${formatBytes(maxBytes)}`);
    // Sized by fstat; a file that grows meanwhile gets room up to maxBytes + 1 and is cut there.
    let buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw new FileReadError(file, `larger than ${formatBytes(maxBytes)}`);
        buf = Buffer.concat([buf, Buffer.alloc(maxBytes + 1 - n)]);
      }
      let got: number;
      try {
        got = readSync(fd, buf, n, buf.length - n, null);
      } catch (err) {
        throw new FileReadError(file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
      if (got === 0) break;
      n += got;
    }
    if (n > maxBytes) throw new FileReadError(file, `larger than ${formatBytes(maxBytes)}`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * A digest over every file's bytes, for the watchers: a missing or refused file counts as a state
 * of its own (its reason), so a FIFO or a device in place of a watched file is noticed without
 * being read.
 */
export function digestFiles(paths: readonly string[], maxBytes: number): string {
  const h = createHash('sha256');
  for (const p of paths) {
    h.update(`${p}\0`);
    try {
      h.update(readRegularFile(p, maxBytes));
    } catch (err) {
      h.update(`\0unreadable:${err instanceof FileReadError ? err.reason : 'error'}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

function kind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a file';
}

export function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
