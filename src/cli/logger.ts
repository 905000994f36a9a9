import pino, { type Logger } from 'pino';

/**
 * The process logger: JSON lines, pretty when the stream is a terminal.
 * `fd` 1 for the daemon (its logs are its output), 2 for one-shot commands.
 */
export function createLogger(level: string, fd: 1 | 2): Logger {
  const tty = fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  if (tty) {
    return pino({ level, base: undefined }, pino.transport({ target: 'pino-pretty', options: { destination: fd, colorize: true, ignore: 'pid,hostname' } }));
  }
  return pino({ level, base: undefined }, pino.destination({ fd, sync: true }));
}
