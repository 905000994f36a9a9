import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

/**
 * The process logger: JSON lines, pretty when the stream is a terminal.
 * `fd` 1 for the daemon (its logs are its output), 2 for one-shot commands.
 * pino-pretty runs in-process and is loaded only for a terminal: scripts and
 * services, which read JSON, never pay for it. NO_COLOR turns colours off.
 */
export function createLogger(level: string, fd: 1 | 2): Logger {
  const tty = fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  if (tty) {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: PrettyOptions) => NodeJS.WritableStream;
    return pino({ level, base: undefined }, pretty({ destination: fd, sync: true, colorize: !process.env.NO_COLOR, ignore: 'pid,hostname' }));
  }
  return pino({ level, base: undefined }, pino.destination({ fd, sync: true }));
}
