/**
 * An Engine call that failed. `transient` errors (Engine unreachable, pull
 * failed, 5xx) are retried with backoff; the others wait for their input to change.
 */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly statusCode?: number,
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** Turns whatever dockerode threw into an EngineError with a message a person can act on. */
export function classifyEngineError(err: unknown, what: string, endpoint: string): EngineError {
  if (err instanceof EngineError) return err;
  const e = err as { code?: string; statusCode?: number; json?: { message?: string }; reason?: string; message?: string };
  if (e.code && UNREACHABLE.has(e.code)) {
    const hint = e.code === 'EACCES' ? 'run hdactl as a user in the docker group' : 'is dockerd running?';
    return new EngineError(`cannot reach the Docker Engine at ${endpoint} (connect ${e.code}): ${hint}`, true, undefined, true);
  }
  const detail = (e.json?.message ?? e.message ?? String(err)).replace(/^\(HTTP code \d+\)\s*/, '').trim();
  const status = e.statusCode;
  if (what.startsWith('pull')) return new EngineError(`${what} failed: ${detail}`, true, status);
  if (status === 409) return new EngineError(`${what}: ${detail}`, false, status);
  if (status !== undefined && status >= 400 && status < 500) return new EngineError(`${what}: ${detail}`, false, status);
  return new EngineError(`${what}: ${detail}`, true, status);
}

/** True when the Engine refused a create because it does not have the image (404 "No such image"). */
export function isMissingImage(err: unknown): boolean {
  return err instanceof EngineError && err.statusCode === 404 && /no such image/i.test(err.message);
}

/**
 * The Engine took the connection but did not answer in time: dockerd is
 * running but stuck. Transient, and reported as the Engine being unreachable.
 */
export function engineStuck(what: string, endpoint: string, timeoutMs: number): EngineError {
  const limit = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
  return new EngineError(
    `the Docker Engine at ${endpoint} did not answer "${what}" within ${limit}: dockerd is running but stuck. `
      + 'If `docker ps` hangs too, restart it (systemctl restart docker); Docker 20.10 (Debian 12) can deadlock while removing containers, moby/libnetwork#2649. '
      + 'Or allow more time with --engine-timeout',
    true,
    undefined,
    true,
  );
}
