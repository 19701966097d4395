/** What the capability plugins are handed: the command side, the read side and its progress. */
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { LedgerCommands } from "../../commands/ledger.js";
import type { EventStore } from "../../eventstore/port.js";
import type { ReadModels } from "../../queries/index.js";
import type { Reports } from "../../queries/reports.js";
import type { ReadModelProgress } from "../consistency.js";

export interface LedgerApi {
  readonly ledger: LedgerCommands;
  readonly readModels: ReadModels;
  /** Statements, balances at an instant, trial balance, end-of-day (read models only). */
  readonly reports: Reports;
  /** The event store itself, for the auditors' raw stream reads. */
  readonly eventStore: Pick<EventStore, "readStream">;
  readonly progress: ReadModelProgress;
}

/** The app with Zod schemas as its type provider: handlers see the parsed, typed request. */
export function withZod(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}
