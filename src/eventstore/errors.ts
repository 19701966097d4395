import type { ActualRevision, ExpectedRevision } from "./port.js";

/** Base of every error the event store raises on purpose; anything else is a bug or an outage. */
export class EventStoreError extends Error {
  override readonly name: string = "EventStoreError";
}

/** An append's expectation did not hold: nothing of that append was written. */
export class WrongExpectedRevision extends EventStoreError {
  override readonly name = "WrongExpectedRevision";
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: ActualRevision,
  ) {
    super(
      `wrong expected revision on stream "${stream}": expected ${String(expected)}, actual ${String(actual)}`,
    );
  }
}

/** The append itself is malformed (a caller's bug): no events, duplicate streams, bad names. */
export class InvalidAppend extends EventStoreError {
  override readonly name = "InvalidAppend";
}

/** The store could not be reached or answered with something other than a result. */
export class EventStoreUnavailable extends EventStoreError {
  override readonly name = "EventStoreUnavailable";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
