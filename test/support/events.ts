/** Events a test writes around the write side, as only a bug would. */
import { randomUUID } from "node:crypto";
import type { EventStore, LogPosition } from "../../src/eventstore/port.js";

/**
 * Appends, around the write side, an account of a type that was never defined: the write side would
 * refuse it, so only a bug (or a hand-written event) gets it into the log, and the read
 * models' foreign key refuses it, stopping the ledger projector on it.
 */
export async function appendUnprojectableAccount(
  store: EventStore,
): Promise<{ accountId: string; position: LogPosition }> {
  const accountId = randomUUID();
  const appended = await store.append(
    `account-${accountId}`,
    "no_stream",
    [
      {
        type: "AccountOpened",
        data: {
          accountId,
          accountType: "NO_SUCH_TYPE",
          normalBalance: "CREDIT",
          allowNegative: false,
          currency: "XCD",
          country: null,
          ownerId: null,
          name: null,
          metadata: {},
          openedAt: new Date().toISOString(),
        },
      },
    ],
    { correlationId: "test", principal: "test", occurredAt: new Date() },
  );
  return { accountId, position: appended.position };
}
