import pino, { type Logger } from 'pino';

export type { Logger };

/** Fields whose values are never written to logs. */
const REDACT = [
  'password', 'pass', 'secret', 'token', 'key', 'authorization', 'cookie',
  '*.password', '*.pass', '*.secret', '*.token', '*.key', '*.authorization', '*.cookie',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
];

/** Creates the process logger: JSON lines on stderr, secrets redacted. */
export function createLogger(level = 'info'): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } }, pino.destination(2));
}

/** A logger that drops everything (tests, CLI commands that print to the terminal). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
