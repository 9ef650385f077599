import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

/**
 * Logs go to stderr (stdout stays free for --config.check and --version). Secrets are `Secret`
 * objects that print as <redacted>; the redact paths are a second line of defence for any plain
 * string that ever ends up under these keys.
 */
export function createLogger(level: LogLevel, format: LogFormat): Logger {
  const options = {
    level,
    base: { service: 'zego-stream-exporter' },
    redact: {
      paths: ['server_secret', '*.server_secret', 'serverSecret', '*.serverSecret', 'secret', '*.secret', 'signature', '*.signature'],
      censor: '<redacted>',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (format === 'pretty') {
    return pino(
      options,
      pretty({ destination: 2, sync: true, colorize: false, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }),
    );
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
