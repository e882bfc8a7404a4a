// The errors serving adds: a request refused because the queue is full (back-pressure), a request
// cancelled through its AbortSignal, and a request made after close(). Each has a stable `code`,
// so a server can map them to HTTP statuses (503, 499, 503) without matching messages. Argument
// errors stay the library's TypeError / RangeError (lib/errors.ts).

/** The batcher's queue already holds `limit` waiting requests: retry later or shed load. */
export class QueueFullError extends Error {
  /** Stable code for mapping to a response (e.g. HTTP 503). */
  readonly code = 'CELLSTATE_QUEUE_FULL' as const;
  /** The batcher's maxQueue. */
  readonly limit: number;
  constructor(where: string, limit: number) {
    super(`${where}: the queue is full (maxQueue = ${limit} waiting requests); retry later`);
    this.name = 'QueueFullError';
    this.limit = limit;
  }
}

/**
 * The request's AbortSignal fired before it settled. Named 'AbortError' with code 'ABORT_ERR' like
 * Node's own cancellations; `cause` is the signal's reason.
 */
export class RequestAbortedError extends Error {
  /** Node's code for a cancellation. */
  readonly code = 'ABORT_ERR' as const;
  constructor(where: string, reason: unknown) {
    super(`${where}: the request was aborted`, { cause: reason });
    this.name = 'AbortError';
  }
}

/** The batcher (or worker pool) was closed: it takes no new requests. */
export class ServeClosedError extends Error {
  /** Stable code for mapping to a response (e.g. HTTP 503). */
  readonly code = 'CELLSTATE_CLOSED' as const;
  constructor(where: string) {
    super(`${where}: it was closed and takes no new requests`);
    this.name = 'ServeClosedError';
  }
}
