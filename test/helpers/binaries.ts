import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

const INSTALL = 'apt-get install -y prometheus redis-server openssl nginx';
/** Debian installs daemons (nginx) here, which a non-root PATH often leaves out. */
const SBIN = ['/usr/sbin', '/sbin'];

/**
 * The path of a tool a test runs (redis-server, prometheus, promtool, openssl, nginx): `$<envVar>` when set,
 * else the first executable of that name on PATH, then in /usr/sbin and /sbin. A missing tool fails the test with how to install
 * it, never skips it: a suite that passes because nothing ran proves nothing. .ci/run installs them.
 */
export function requireBinary(name: string, envVar: string): string {
  const override = process.env[envVar];
  if (override) {
    if (isExecutable(override)) return override;
    throw new Error(`$${envVar} is set to ${override}, which is not an executable file. Unset it to use ${name} from PATH, or install it: ${INSTALL}`);
  }
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), ...SBIN]) {
    if (!dir || !isAbsolute(dir)) continue;
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  throw new Error(`${name} not found on PATH; this test runs the real one. Install it (Debian/Ubuntu): ${INSTALL}, or set $${envVar} to its path.`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
