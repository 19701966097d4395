/**
 * Configuration as the command side reads it before planning a command: transaction types,
 * account types with their permission lists, and which type each account has.
 *
 * Why not declare the configuration streams in the command (like an account's stream)? The
 * pipeline keeps any two batches that share a stream from running at once, and every posting
 * of a type shares that type's stream and its accounts' type streams: declaring them would put
 * all postings in one batch at a time. Configuration is read-mostly, so it is read here from
 * the aggregate cache (no I/O when warm) and handed to the pure decider as plain data. The
 * price is ordering: a configuration change applies to the commands submitted after it was
 * acknowledged, not to ones already being planned. A change made by another process is seen
 * here within `configurationFreshMsMax` (each configuration stream is re-read at most once per
 * that interval). An account's type never changes, so it is read once.
 */
import {
  type AccountTypeState,
  accountTypeCodePattern,
} from "../domain/account-types/account-type.js";
import type { AccountState } from "../domain/accounts/account.js";
import type { Limit } from "../domain/limits/limits.js";
import { accountStream, accountTypeStream, transactionTypeStream } from "../domain/streams.js";
import type { Permissions } from "../domain/transaction-types/permissions.js";
import {
  type TransactionTypeState,
  transactionTypeCodePattern,
} from "../domain/transaction-types/transaction-type.js";
import type { CommandPipeline } from "./pipeline.js";

/** How stale a configuration stream read from the cache may be (changes by other processes). */
export const configurationFreshMsMax = 5_000;

/** What a typed posting or a transaction is decided with, besides its own streams. */
export interface Participation {
  /** Account id → its type's code, for each account that existed when planning. */
  readonly accountTypes: ReadonlyMap<string, string>;
  /** Account type → the transaction types its accounts may take part in. */
  readonly permissions: Permissions;
  /** Account type → its limits, by transaction type. */
  readonly limits: ReadonlyMap<string, Readonly<Record<string, Limit>>>;
}

export class ConfigurationReader {
  /** When each configuration stream was last read from the store (ms since epoch). */
  private readonly readAtMs = new Map<string, number>();

  constructor(
    private readonly pipeline: CommandPipeline,
    private readonly clockMs: () => number = Date.now,
  ) {}

  /** A code no definition could have (it would not even name a stream) is not read at all. */
  async transactionType(code: string): Promise<TransactionTypeState> {
    if (!transactionTypeCodePattern.test(code)) return undefined;
    return (await this.configuration(transactionTypeStream(code))) as TransactionTypeState;
  }

  async accountType(code: string): Promise<AccountTypeState> {
    if (!accountTypeCodePattern.test(code)) return undefined;
    return (await this.configuration(accountTypeStream(code))) as AccountTypeState;
  }

  /** The states of several account types at once (undefined: no such type). */
  async accountTypes(codes: readonly string[]): Promise<Map<string, AccountTypeState>> {
    const states = await Promise.all(codes.map((code) => this.accountType(code)));
    return new Map(codes.map((code, index) => [code, states[index]]));
  }

  /** Each account's type and each of those types' permission list. */
  async participation(accountIds: readonly string[]): Promise<Participation> {
    const types = await Promise.all(accountIds.map((accountId) => this.accountTypeOf(accountId)));
    const accountTypes = new Map<string, string>();
    accountIds.forEach((accountId, index) => {
      const type = types[index];
      if (type !== undefined) accountTypes.set(accountId, type);
    });
    const codes = [...new Set(accountTypes.values())];
    const states = await this.accountTypes(codes);
    const permissions = new Map<string, readonly string[]>();
    const limits = new Map<string, Readonly<Record<string, Limit>>>();
    for (const [code, state] of states) {
      permissions.set(code, state?.transactionTypes ?? []);
      limits.set(code, state?.limits ?? {});
    }
    return { accountTypes, permissions, limits };
  }

  /**
   * An account's type: immutable once opened, so any cached state is good. A missing account
   * is read from the store, which also warms the cache for the command's own batch.
   */
  private async accountTypeOf(accountId: string): Promise<string | undefined> {
    const stream = accountStream(accountId);
    const cached = this.pipeline.cache.get(stream)?.state as AccountState;
    if (cached !== undefined) return cached.accountType;
    const loaded = (await this.pipeline.load(stream)).state as AccountState;
    return loaded?.accountType;
  }

  private async configuration(stream: string): Promise<unknown> {
    const cached = this.pipeline.cache.get(stream);
    const readAtMs = this.readAtMs.get(stream);
    const fresh = readAtMs !== undefined && this.clockMs() - readAtMs < configurationFreshMsMax;
    if (cached !== undefined && fresh) return cached.state;
    const loaded = await this.pipeline.load(stream);
    // A missing stream is not remembered (it may be defined at any moment), as in the pipeline.
    if (loaded.revision >= 0) this.readAtMs.set(stream, this.clockMs());
    return loaded.state;
  }
}

/** Each account type's limit for `transactionType` (types without one are absent). */
export function limitsFor(
  participation: Participation,
  transactionType: string,
): Map<string, Limit> {
  const limits = new Map<string, Limit>();
  for (const [accountType, byTransactionType] of participation.limits) {
    const limit = byTransactionType[transactionType];
    if (limit !== undefined) limits.set(accountType, limit);
  }
  return limits;
}

/**
 * Whether every existing account was known when the command was planned. One that was not
 * was opened meanwhile: its type's permissions were not read, so it is treated as not found
 * yet (a retry finds it).
 */
export function unplannedAccount(
  accounts: ReadonlyMap<string, AccountState>,
  participation: Participation,
): string | undefined {
  for (const [accountId, account] of accounts) {
    if (account !== undefined && !participation.accountTypes.has(accountId)) return accountId;
  }
  return undefined;
}
