/** What the capability plugins are handed: the command side, the read side and its progress. */
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { LedgerCommands } from "../../commands/ledger.js";
import type { ReadModels } from "../../queries/index.js";
import type { ReadModelProgress } from "../consistency.js";

export interface LedgerApi {
  readonly ledger: LedgerCommands;
  readonly readModels: ReadModels;
  readonly progress: ReadModelProgress;
}

/** The app with Zod schemas as its type provider: handlers see the parsed, typed request. */
export function withZod(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}
