/**
 * Use cases of configuration (transaction types, account-type permissions) and of domain
 * transactions, planned into the same batching pipeline as the ledger's (ledger.ts).
 *
 * A transaction is one atomic append: its own stream (`transaction-<id>`: requested, posted),
 * the posting it expands into and every account's entries. A business rejection appends
 * nothing there; the pipeline re-checks it against the store once, like any rejection, and
 * only then is the transaction recorded as FAILED, in a second append on its own stream
 * alone. Recording the failure inside the first decision would skip that re-check and could
 * keep a FAILED record that a stale cache caused.
 */
import { v5 as uuidv5 } from "uuid";
import {
  type AccountTypeState,
  accountTypeCodePattern,
  decideSetAccountTypeTransactionTypes,
  type SetAccountTypeTransactionTypes,
} from "../domain/account-types/account-type.js";
import type { AccountState } from "../domain/accounts/account.js";
import { accountNotFound, parsePositiveAmount } from "../domain/accounts/decide.js";
import {
  assert,
  isRejection,
  type Rejection,
  type RejectionCode,
  reject,
} from "../domain/errors.js";
import {
  checkLimit,
  decideSetLimit,
  type Limit,
  type LimitCheck,
  type SetLimit,
} from "../domain/limits/limits.js";
import type { PostingState } from "../domain/postings/posting.js";
import {
  accountStream,
  accountTypeStream,
  postingStream,
  referenceStream,
  transactionStream,
  transactionTypeStream,
} from "../domain/streams.js";
import { unknownTransactionType } from "../domain/transaction-types/permissions.js";
import { namedAccountTypes } from "../domain/transaction-types/template.js";
import {
  type DefineTransactionType,
  decideDefineTransactionType,
  type TransactionType,
  type TransactionTypeState,
} from "../domain/transaction-types/transaction-type.js";
import {
  decideFailTransaction,
  decideRecordTransaction,
  decideReverseTransaction,
  involvedAccounts,
  notPosted,
  parseTransactionAmount,
  type RecordTransaction,
  resolveParties,
  type TransactionDecision,
  transactionNotFound,
} from "../domain/transactions/decide.js";
import type { DomainTransaction, TransactionState } from "../domain/transactions/transaction.js";
import {
  ConfigurationReader,
  limitsFor,
  type Participation,
  unplannedAccount,
} from "./configuration.js";
import {
  accountOf,
  accountsOf,
  type BalanceView,
  balanceView,
  contextOf,
  rejected,
  unique,
  write,
} from "./ledger.js";
import type { CommandOutcome, CommandPipeline, Decision, StreamView } from "./pipeline.js";
import { type Actor, creationId, referenceHash, requestHash } from "./requests.js";
import type { DomainEvent, ReferenceIndex } from "./streams.js";

/** Namespace of the posting ids derived from transaction ids (a fixed random UUID; keep it). */
const transactionPostingNamespace = "13a3194f-68d1-470c-a13d-a45bc679f33d";

/**
 * The posting a transaction expands into has an id of its own, derived from the
 * transaction's: a client's own posting id can never collide with it by accident.
 */
export function transactionPostingId(transactionId: string): string {
  return uuidv5(`transaction-posting\n${transactionId}`, transactionPostingNamespace);
}

/** Rejections that say the request itself was already used: no FAILED record for them. */
const notRecorded: ReadonlySet<RejectionCode> = new Set([
  "IDEMPOTENCY_KEY_REUSED",
  "TRANSACTION_EXISTS",
  "POSTING_EXISTS",
]);

export interface RecordTransactionRequest {
  readonly id?: string | null;
  readonly transactionType: string;
  readonly amount: { readonly value: string; readonly currency: string };
  readonly parties: Readonly<Record<string, string>>;
  readonly reference?: string | null;
  readonly description?: string | null;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface TransactionResult {
  /** POSTED, REVERSED, or FAILED with the rejection in `failure`. */
  readonly transaction: DomainTransaction;
  /** Balances of the accounts the command moved, right after it (empty otherwise). */
  readonly balances: readonly BalanceView[];
}

export interface AccountTypePermissions {
  readonly accountType: string;
  readonly transactionTypes: readonly string[];
}

export class TransactionCommands {
  private readonly configuration: ConfigurationReader;

  constructor(private readonly pipeline: CommandPipeline) {
    this.configuration = new ConfigurationReader(pipeline);
  }

  async defineTransactionType(
    request: DefineTransactionType,
    actor: Actor,
  ): Promise<CommandOutcome<TransactionType>> {
    const stream = transactionTypeStream(request.code);
    if (!accountTypeCodePattern.test(request.code)) {
      return rejected(reject("VALIDATION_ERROR", "a code is ^[A-Z][A-Z0-9_]{1,31}$"));
    }
    const accountTypes = await this.configuration.accountTypes(namedAccountTypes(request));
    return this.pipeline.submit({
      name: "defineTransactionType",
      streams: [stream],
      context: contextOf(actor),
      decide: (view, now) => {
        const state = view.state(stream) as TransactionTypeState;
        const decision = decideDefineTransactionType(request, state, accountTypes, now);
        if (isRejection(decision)) return decision;
        return write([{ stream, events: [decision] }], (after) => {
          const defined = after.state(stream) as TransactionTypeState;
          assert(defined !== undefined, "a transaction type exists after its definition");
          return defined;
        });
      },
    });
  }

  async setAccountTypeTransactionTypes(
    request: SetAccountTypeTransactionTypes,
    actor: Actor,
  ): Promise<CommandOutcome<AccountTypePermissions>> {
    if (!accountTypeCodePattern.test(request.code)) {
      return rejected(reject("UNKNOWN_ACCOUNT_TYPE", `no account type ${request.code}`));
    }
    const stream = accountTypeStream(request.code);
    const named = [...new Set(request.transactionTypes)];
    const states = await Promise.all(named.map((code) => this.configuration.transactionType(code)));
    const known = new Set(named.filter((_code, index) => states[index] !== undefined));
    return this.pipeline.submit({
      name: "setAccountTypeTransactionTypes",
      streams: [stream],
      context: contextOf(actor),
      decide: (view, now) => {
        const state = view.state(stream) as AccountTypeState;
        const decision = decideSetAccountTypeTransactionTypes(request, state, known, now);
        if (isRejection(decision)) return decision;
        return write([{ stream, events: [decision] }], () => ({
          accountType: decision.data.code,
          transactionTypes: decision.data.transactionTypes,
        }));
      },
    });
  }

  async setLimit(request: SetLimit, actor: Actor): Promise<CommandOutcome<Limit>> {
    if (!accountTypeCodePattern.test(request.accountType)) {
      return rejected(reject("UNKNOWN_ACCOUNT_TYPE", `no account type ${request.accountType}`));
    }
    const stream = accountTypeStream(request.accountType);
    const transactionType = await this.configuration.transactionType(request.transactionType);
    return this.pipeline.submit({
      name: "setLimit",
      streams: [stream],
      context: contextOf(actor),
      decide: (view, now) => {
        const existing = {
          accountType: view.state(stream) !== undefined,
          transactionType: transactionType !== undefined,
        };
        const decision = decideSetLimit(request, existing, now);
        if (isRejection(decision)) return decision;
        return write([{ stream, events: [decision] }], () => decision.data);
      },
    });
  }

  /**
   * API.md `POST /v1/limits/check`: whether the account could pay `amount` in a transaction
   * of the type now, from the write model, without moving anything.
   */
  async checkLimit(
    request: {
      readonly accountId: string;
      readonly transactionType: string;
      readonly amount: { readonly value: string; readonly currency: string };
    },
    now: Date,
  ): Promise<LimitCheck | Rejection> {
    const account = (await this.pipeline.load(accountStream(request.accountId)))
      .state as AccountState;
    if (account === undefined) return accountNotFound(request.accountId);
    const amount = parsePositiveAmount(request.amount, account.currency, "amount");
    if (isRejection(amount)) return amount;
    const type = await this.configuration.transactionType(request.transactionType);
    if (type === undefined) return unknownTransactionType(request.transactionType);
    const accountType = await this.configuration.accountType(account.accountType);
    return checkLimit(account, accountType?.limits?.[type.code], amount, now);
  }

  /**
   * Records a domain transaction. Its outcome is `ok` for a FAILED transaction too (the
   * failure was recorded): the caller answers with the failure's problem.
   */
  async recordTransaction(
    request: RecordTransactionRequest,
    actor: Actor,
  ): Promise<CommandOutcome<TransactionResult>> {
    const { id, idempotent } = creationId(actor, "transactions.create", request.id);
    const command: RecordTransaction = {
      ...request,
      transactionId: id,
      postingId: transactionPostingId(id),
      requestHash: requestHash("transactions.create", request),
      idempotent,
    };
    // Malformed input is refused before anything is recorded: there is no transaction yet.
    const amount = parseTransactionAmount(request.amount);
    if (isRejection(amount)) return rejected(amount);
    const type = await this.configuration.transactionType(request.transactionType);
    const planning = plannedFailure(type, command);
    if (planning !== undefined) return this.recordFailure(command, type, planning, actor);
    const accountIds = involvedAccounts(type, request.parties);
    const participation = await this.configuration.participation(accountIds);
    const outcome = await this.submitTransaction(command, type, accountIds, participation, actor);
    if (outcome.ok || notRecorded.has(outcome.rejection.code)) return outcome;
    return this.recordFailure(command, type, outcome.rejection, actor);
  }

  async reverseTransaction(
    request: {
      readonly transactionId: string;
      readonly reason: string;
      readonly id?: string | null;
    },
    actor: Actor,
  ): Promise<CommandOutcome<TransactionResult>> {
    const ownStream = transactionStream(request.transactionId);
    // A transaction's posting and its legs never change: the accounts are known before queueing.
    const transaction = (await this.pipeline.load(ownStream)).state as TransactionState;
    if (transaction === undefined) return rejected(transactionNotFound(request.transactionId));
    if (transaction.postingId === null) return rejected(notPosted(transaction));
    const originalStream = postingStream(transaction.postingId);
    const original = (await this.pipeline.load(originalStream)).state as PostingState;
    assert(original !== undefined, "a posted transaction's posting was appended with it");
    const { id, idempotent } = creationId(
      actor,
      `transactions.reverse:${request.transactionId}`,
      request.id,
    );
    const hash = requestHash("transactions.reverse", request);
    const reversalStream = postingStream(id);
    const accountIds = unique(original.entries.map((entry) => entry.accountId));
    return this.pipeline.submit({
      name: "reverseTransaction",
      streams: [ownStream, originalStream, reversalStream, ...accountIds.map(accountStream)],
      presumedNew: [reversalStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const decision = decideReverseTransaction(
          {
            transactionId: request.transactionId,
            reversalPostingId: id,
            reason: request.reason,
            requestHash: hash,
            idempotent,
          },
          {
            transaction: view.state(ownStream) as TransactionState,
            original: view.state(originalStream) as PostingState,
            reversal: view.state(reversalStream) as PostingState,
            accounts: accountsOf(view, accountIds),
          },
          now,
        );
        return transactionWrite(decision, view, {
          ownStream,
          replayStream: reversalStream,
          accountIds,
          now,
        });
      },
    });
  }

  private submitTransaction(
    command: RecordTransaction,
    type: TransactionTypeState,
    accountIds: readonly string[],
    participation: Participation,
    actor: Actor,
  ): Promise<CommandOutcome<TransactionResult>> {
    const ownStream = transactionStream(command.transactionId);
    const posting = postingStream(command.postingId);
    const reference = command.reference ?? null;
    const claim = reference === null ? undefined : referenceStream(referenceHash(reference));
    const created = [ownStream, posting, ...(claim ? [claim] : [])];
    return this.pipeline.submit({
      name: "recordTransaction",
      streams: [...created, ...accountIds.map(accountStream)],
      presumedNew: created,
      context: contextOf(actor),
      decide: (view, now) => {
        const transaction = view.state(ownStream) as TransactionState;
        const accounts = accountsOf(view, accountIds);
        const unplanned = transaction === undefined && unplannedAccount(accounts, participation);
        if (unplanned) return accountNotFound(unplanned);
        const claimedBy = claim ? (view.state(claim) as ReferenceIndex | undefined) : undefined;
        const decision = decideRecordTransaction(
          command,
          {
            transaction,
            transactionType: type,
            posting: view.state(posting) as PostingState,
            accounts,
            permissions: participation.permissions,
            limits: limitsFor(participation, command.transactionType),
            referenceTaken: claimedBy !== undefined && claimedBy.postingId !== command.postingId,
          },
          now,
        );
        return transactionWrite(decision, view, {
          ownStream,
          replayStream: ownStream,
          accountIds,
          claim,
          now,
        });
      },
    });
  }

  /** Appends TransactionRequested + TransactionFailed, or answers what the stream holds. */
  private recordFailure(
    command: RecordTransaction,
    type: TransactionTypeState,
    rejection: Rejection,
    actor: Actor,
  ): Promise<CommandOutcome<TransactionResult>> {
    const ownStream = transactionStream(command.transactionId);
    return this.pipeline.submit({
      name: "recordFailedTransaction",
      streams: [ownStream],
      presumedNew: [ownStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const state = view.state(ownStream) as TransactionState;
        const decision = decideFailTransaction(command, state, type, rejection, now);
        return transactionWrite(decision, view, {
          ownStream,
          replayStream: ownStream,
          accountIds: [],
          now,
        });
      },
    });
  }
}

/**
 * Refusals known before any account is read: an unknown type or parties that do not fill
 * its roles. The transaction is recorded as FAILED straight away.
 */
function plannedFailure(
  type: TransactionTypeState,
  command: RecordTransaction,
): Rejection | undefined {
  if (type === undefined) return unknownTransactionType(command.transactionType);
  const legs = resolveParties(type, command.parties);
  return isRejection(legs) ? legs : undefined;
}

interface WriteTargets {
  readonly ownStream: string;
  /** The stream whose first event is the original answer's commit (for a replay). */
  readonly replayStream: string;
  /** The accounts the command declared (their balances come with the result). */
  readonly accountIds: readonly string[];
  readonly claim?: string | undefined;
  readonly now: Date;
}

function transactionWrite(
  decision: TransactionDecision,
  view: StreamView,
  targets: WriteTargets,
): Decision<TransactionResult> {
  if (decision.kind === "rejection") return decision;
  if (decision.kind === "replay") {
    return {
      kind: "answer",
      result: { transaction: decision.transaction, balances: [] },
      position: view.firstPosition(targets.replayStream),
    };
  }
  const events: Array<{ stream: string; events: readonly DomainEvent[] }> = [
    { stream: targets.ownStream, events: decision.events },
  ];
  const posting = decision.posting;
  if (posting !== null) {
    for (const [postingId, postingEvents] of posting.postingEvents) {
      events.push({ stream: postingStream(postingId), events: postingEvents });
    }
    for (const [accountId, accountEvents] of posting.accountEvents) {
      events.push({ stream: accountStream(accountId), events: accountEvents });
    }
    if (targets.claim !== undefined && posting.reference !== null) {
      const claimed: DomainEvent = {
        type: "ReferenceClaimed",
        data: { reference: posting.reference, postingId: posting.posting.id },
      };
      events.push({ stream: targets.claim, events: [claimed] });
    }
  }
  const moved = posting === null ? [] : targets.accountIds;
  return write(events, (after) => ({
    transaction: decision.transaction,
    balances: moved.flatMap((accountId) => {
      const account = accountOf(after, accountId);
      return account === undefined ? [] : [balanceView(account, targets.now)];
    }),
  }));
}
