/**
 * The ledger's use cases: each turns a request into a planned command (which streams it reads
 * and writes, and how it decides) and submits it to the batching pipeline.
 */
import {
  type AccountType,
  accountTypeCodePattern,
  type DefineAccountType,
  decideDefineAccountType,
} from "../domain/account-types/account-type.js";
import {
  type Account,
  type AccountState,
  asOpened,
  balancesOf,
} from "../domain/accounts/account.js";
import {
  accountNotFound,
  decideChangeStatus,
  decideOpenAccount,
  decideSetOverdraftLine,
  type OpenAccount,
  type SetOverdraftLine,
  type StatusAction,
} from "../domain/accounts/decide.js";
import { decidePlaceHold, decideReleaseHold, type PlaceHold } from "../domain/accounts/holds.js";
import { isRejection, type Rejection, reject } from "../domain/errors.js";
import { checkPostingLimits } from "../domain/limits/limits.js";
import { formatAmount } from "../domain/money/index.js";
import {
  decideCaptureHold,
  decideRecordPosting,
  decideReversePosting,
  type EntryRequest,
  type PostingDecision,
} from "../domain/postings/decide.js";
import type { Posting, PostingState } from "../domain/postings/posting.js";
import {
  accountStream,
  accountTypeStream,
  holdStream,
  postingStream,
  referenceStream,
} from "../domain/streams.js";
import { checkTypedPosting } from "../domain/transaction-types/permissions.js";
import { type AppendContext, formatPosition } from "../eventstore/port.js";
import { ConfigurationReader, limitsFor, unplannedAccount } from "./configuration.js";
import { MetadataSchemas } from "./metadata-schemas.js";
import type { CommandOutcome, CommandPipeline, Decision, StreamView } from "./pipeline.js";
import { type Actor, creationId, referenceHash, requestHash } from "./requests.js";
import type { DomainEvent, HoldIndex, HoldOpened, ReferenceIndex } from "./streams.js";

export interface BalanceView {
  readonly accountId: string;
  readonly currency: string;
  readonly posted: string;
  readonly held: string;
  readonly available: string;
  readonly overdraftLimit: string;
}

export interface AccountView {
  readonly account: Account;
  readonly balances: BalanceView;
}

export interface PostingResult {
  readonly posting: Posting;
  /** Balances of every account the posting touched, right after it. */
  readonly balances: readonly BalanceView[];
}

export interface HoldResult {
  readonly holdId: string;
  readonly accountId: string;
  readonly amount: string;
  readonly currency: string;
  readonly status: "ACTIVE" | "RELEASED";
  readonly expiresAt: string | null;
  readonly balances: BalanceView;
}

export interface RecordPostingRequest {
  readonly id?: string | null;
  readonly transactionType?: string | null;
  readonly reference?: string | null;
  readonly description?: string | null;
  readonly entries: readonly EntryRequest[];
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export class LedgerCommands {
  /** Configuration a typed posting is checked against (transaction types, permissions). */
  private readonly configuration: ConfigurationReader;
  /** Compiled account metadata schemas, one per account type. */
  private readonly metadataSchemas = new MetadataSchemas();

  constructor(private readonly pipeline: CommandPipeline) {
    this.configuration = new ConfigurationReader(pipeline);
  }

  async defineAccountType(
    request: DefineAccountType,
    actor: Actor,
  ): Promise<CommandOutcome<AccountType>> {
    const stream = accountTypeStream(request.code);
    const invalidSchema = this.metadataSchemas.schemaRejection(request.metadataSchema);
    if (invalidSchema !== undefined) return rejected(invalidSchema);
    return this.pipeline.submit({
      name: "defineAccountType",
      streams: [stream],
      context: contextOf(actor),
      decide: (view, now) => {
        const decision = decideDefineAccountType(
          request,
          view.state(stream) as AccountType | undefined,
          now,
        );
        if (isRejection(decision)) return decision;
        return write([{ stream, events: [decision] }], () => decision.data);
      },
    });
  }

  openAccount(
    request: Omit<OpenAccount, "accountId"> & {
      readonly id?: string | null;
      readonly accountType: string;
    },
    actor: Actor,
  ): Promise<CommandOutcome<AccountView>> {
    const { id, idempotent } = creationId(actor, "accounts.open", request.id);
    const hash = idempotent ? requestHash("accounts.open", request) : null;
    const stream = accountStream(id);
    const typeStream = accountTypeStream(request.accountType);
    // A code no type can have would not even name a stream the store accepts.
    if (!accountTypeCodePattern.test(request.accountType)) {
      return Promise.resolve(rejected(reject("UNKNOWN_ACCOUNT_TYPE", "no such account type")));
    }
    return this.pipeline.submit({
      name: "openAccount",
      streams: [stream, typeStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const existing = accountOf(view, id);
        if (hash !== null && existing?.openRequestHash === hash) {
          const original = asOpened(existing);
          return {
            kind: "answer",
            result: { account: original, balances: balanceView(original, now) },
            position: view.firstPosition(stream),
          };
        }
        if (hash !== null && existing !== undefined && existing.openRequestHash !== null) {
          return idempotencyKeyReused();
        }
        const accountType = view.state(typeStream) as AccountType | undefined;
        const decision = decideOpenAccount(
          { ...request, accountId: id, requestHash: hash },
          accountOf(view, id),
          accountType,
          now,
        );
        if (isRejection(decision)) return decision;
        const invalidMetadata =
          accountType && this.metadataSchemas.check(accountType, decision.data.metadata);
        if (invalidMetadata) return invalidMetadata;
        return write([{ stream, events: [decision] }], (after) => accountView(after, id, now));
      },
    });
  }

  changeAccountStatus(
    request: { readonly accountId: string; readonly action: StatusAction; readonly reason: string },
    actor: Actor,
  ): Promise<CommandOutcome<AccountView>> {
    return this.onAccount(`${request.action}Account`, request.accountId, actor, (state, now) =>
      decideChangeStatus(request, state, now),
    );
  }

  setOverdraftLine(request: SetOverdraftLine, actor: Actor): Promise<CommandOutcome<AccountView>> {
    return this.onAccount("setOverdraftLine", request.accountId, actor, (state, now) =>
      decideSetOverdraftLine(request, state, now),
    );
  }

  async recordPosting(
    request: RecordPostingRequest,
    actor: Actor,
  ): Promise<CommandOutcome<PostingResult>> {
    const { id, idempotent } = creationId(actor, "postings.create", request.id);
    const hash = requestHash("postings.create", request);
    const ownStream = postingStream(id);
    const reference = request.reference ?? null;
    const claim = reference === null ? undefined : referenceStream(referenceHash(reference));
    const accountIds = unique(request.entries.map((entry) => entry.accountId));
    const typed = await this.typedPostingCheck(request.transactionType ?? null, accountIds);
    return this.pipeline.submit({
      name: "recordPosting",
      streams: [ownStream, ...(claim ? [claim] : []), ...accountIds.map(accountStream)],
      presumedNew: [ownStream, ...(claim ? [claim] : [])],
      // Without a key no retry can name this posting again; a reversal reads it from the store.
      uncached: idempotent ? [] : [ownStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const accounts = accountsOf(view, accountIds);
        // A replay answers as the original did, whatever the permissions are now.
        const refused = view.state(ownStream) === undefined ? typed.refuse(accounts) : undefined;
        if (refused !== undefined) return refused;
        const claimedBy = claim ? (view.state(claim) as ReferenceIndex | undefined) : undefined;
        const decision = decideRecordPosting(
          {
            ...request,
            postingId: id,
            requestHash: hash,
            idempotent,
          },
          {
            posting: view.state(ownStream) as PostingState,
            accounts,
            referenceTaken: claimedBy !== undefined && claimedBy.postingId !== id,
          },
          now,
        );
        const overLimit = typed.overLimit(accounts, decision, now);
        if (overLimit !== undefined) return overLimit;
        return postingWrite(decision, view, ownStream, claim, accountIds, now);
      },
    });
  }

  async reversePosting(
    request: { readonly postingId: string; readonly reason: string; readonly id?: string | null },
    actor: Actor,
  ): Promise<CommandOutcome<PostingResult>> {
    const originalStream = postingStream(request.postingId);
    // A posting's legs never change, so the accounts to lock can be learnt before queueing.
    const original = (await this.pipeline.load(originalStream)).state as PostingState;
    if (original === undefined) return rejected(postingNotFound(request.postingId));
    // Its transaction must record the reversal too: the posting is reversed through it.
    if (original.transactionId !== null) {
      return rejected(
        reject(
          "POSTING_OF_TRANSACTION",
          `posting ${request.postingId} carries out transaction ${original.transactionId}: reverse the transaction (POST /v1/transactions/${original.transactionId}/reverse)`,
          { postingId: request.postingId, transactionId: original.transactionId },
        ),
      );
    }
    const { id, idempotent } = creationId(
      actor,
      `postings.reverse:${request.postingId}`,
      request.id,
    );
    const hash = requestHash("postings.reverse", request);
    const ownStream = postingStream(id);
    const accountIds = unique(original.entries.map((entry) => entry.accountId));
    return this.pipeline.submit({
      name: "reversePosting",
      streams: [ownStream, originalStream, ...accountIds.map(accountStream)],
      presumedNew: [ownStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const decision = decideReversePosting(
          {
            postingId: request.postingId,
            reversalId: id,
            reason: request.reason,
            requestHash: hash,
            idempotent,
          },
          {
            original: view.state(originalStream) as PostingState,
            reversal: view.state(ownStream) as PostingState,
            accounts: accountsOf(view, accountIds),
          },
          now,
        );
        return postingWrite(decision, view, ownStream, undefined, accountIds, now);
      },
    });
  }

  placeHold(
    request: Omit<PlaceHold, "holdId"> & { readonly id?: string | null },
    actor: Actor,
  ): Promise<CommandOutcome<HoldResult>> {
    const { id, idempotent } = creationId(actor, "holds.place", request.id);
    const hash = idempotent ? requestHash("holds.place", request) : null;
    const stream = accountStream(request.accountId);
    const indexStream = holdStream(id);
    return this.pipeline.submit({
      name: "placeHold",
      streams: [stream, indexStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const index = view.state(indexStream) as HoldIndex | undefined;
        if (index !== undefined && hash !== null && index.requestHash === hash) {
          return {
            kind: "answer",
            result: {
              ...holdResult(view, index.accountId, id, "ACTIVE", now),
              amount: index.amount ?? "",
              expiresAt: index.expiresAt,
            },
            position: view.firstPosition(indexStream),
          };
        }
        if (index !== undefined && hash !== null && index.requestHash !== null) {
          return idempotencyKeyReused();
        }
        if (index !== undefined) {
          return reject("HOLD_EXISTS", `hold ${id} already exists`, { holdId: id });
        }
        const decision = decidePlaceHold(
          { ...request, holdId: id },
          accountOf(view, request.accountId),
          now,
        );
        if (!Array.isArray(decision)) return decision;
        const placed = decision.find((event) => event.type === "HoldPlaced");
        const opened: HoldOpened = {
          type: "HoldOpened",
          data: {
            holdId: id,
            accountId: request.accountId,
            ...(hash === null ? {} : { requestHash: hash }),
            ...(placed?.type === "HoldPlaced"
              ? { amount: placed.data.amount, expiresAt: placed.data.expiresAt }
              : {}),
          },
        };
        return write(
          [
            { stream, events: decision },
            { stream: indexStream, events: [opened] },
          ],
          (after) => holdResult(after, request.accountId, id, "ACTIVE", now),
        );
      },
    });
  }

  async releaseHold(
    request: { readonly holdId: string },
    actor: Actor,
  ): Promise<CommandOutcome<HoldResult>> {
    const accountId = await this.holdAccount(request.holdId);
    if (accountId === undefined) return rejected(holdNotFound(request.holdId));
    const stream = accountStream(accountId);
    const before = new Map<string, string | null>();
    return this.pipeline.submit({
      name: "releaseHold",
      streams: [stream],
      context: contextOf(actor),
      decide: (view, now) => {
        const account = accountOf(view, accountId);
        const hold = account?.holds.get(request.holdId);
        if (account !== undefined && hold !== undefined) {
          before.set("amount", formatAmount(hold.amount, account.currency));
          before.set("expiresAt", hold.expiresAt);
        }
        const decision = decideReleaseHold({ holdId: request.holdId, accountId }, account, now);
        if (!Array.isArray(decision)) return decision;
        return write([{ stream, events: decision }], (after) => ({
          ...holdResult(after, accountId, request.holdId, "RELEASED", now),
          amount: before.get("amount") ?? "",
          expiresAt: before.get("expiresAt") ?? null,
        }));
      },
    });
  }

  async captureHold(
    request: {
      readonly holdId: string;
      readonly toAccountId: string;
      readonly amount?: { readonly value: string; readonly currency: string } | null;
      readonly id?: string | null;
    },
    actor: Actor,
  ): Promise<CommandOutcome<PostingResult>> {
    const accountId = await this.holdAccount(request.holdId);
    if (accountId === undefined) return rejected(holdNotFound(request.holdId));
    const { id, idempotent } = creationId(actor, `holds.capture:${request.holdId}`, request.id);
    const hash = requestHash("holds.capture", request);
    const ownStream = postingStream(id);
    const accountIds = unique([accountId, request.toAccountId]);
    return this.pipeline.submit({
      name: "captureHold",
      streams: [ownStream, ...accountIds.map(accountStream)],
      presumedNew: [ownStream],
      context: contextOf(actor),
      decide: (view, now) => {
        const decision = decideCaptureHold(
          { ...request, accountId, postingId: id, requestHash: hash, idempotent },
          {
            posting: view.state(ownStream) as PostingState,
            accounts: accountsOf(view, accountIds),
          },
          now,
        );
        return postingWrite(decision, view, ownStream, undefined, accountIds, now);
      },
    });
  }

  /** Balances from the write model (API `?consistency=strong`). */
  async balances(accountId: string, now: Date): Promise<BalanceView | undefined> {
    return (await this.strongBalances(accountId, now))?.balances;
  }

  /** Balances from the write model with the position of the account's last event. */
  async strongBalances(
    accountId: string,
    now: Date,
  ): Promise<{ balances: BalanceView; position: string | null } | undefined> {
    const loaded = await this.pipeline.load(accountStream(accountId));
    const account = loaded.state as AccountState;
    if (account === undefined) return undefined;
    const position = loaded.lastPosition ? formatPosition(loaded.lastPosition) : null;
    return { balances: balanceView(account, now), position };
  }

  /**
   * API.md: a posting that names a transaction type needs the type to exist and every
   * account's type to list it. The configuration is read before queueing (configuration.ts
   * says why); the returned check runs inside the decision, on the accounts it decides on.
   */
  private async typedPostingCheck(
    transactionType: string | null,
    accountIds: readonly string[],
  ): Promise<TypedPostingCheck> {
    if (transactionType === null) return untypedPosting;
    const [type, participation] = await Promise.all([
      this.configuration.transactionType(transactionType),
      this.configuration.participation(accountIds),
    ]);
    const limits = limitsFor(participation, transactionType);
    return {
      refuse: (accounts) => {
        const unplanned = unplannedAccount(accounts, participation);
        if (unplanned !== undefined) return accountNotFound(unplanned);
        return checkTypedPosting(transactionType, type, accounts, participation.permissions);
      },
      overLimit: (accounts, decision, now) =>
        decision.kind === "accepted"
          ? checkPostingLimits(decision.posting, accounts, limits, now)
          : undefined,
    };
  }

  private async holdAccount(holdId: string): Promise<string | undefined> {
    const index = (await this.pipeline.load(holdStream(holdId))).state as HoldIndex | undefined;
    return index?.accountId;
  }

  private onAccount(
    name: string,
    accountId: string,
    actor: Actor,
    decide: (state: AccountState, now: Date) => readonly DomainEvent[] | Rejection,
  ): Promise<CommandOutcome<AccountView>> {
    const stream = accountStream(accountId);
    return this.pipeline.submit({
      name,
      streams: [stream],
      context: contextOf(actor),
      decide: (view, now) => {
        const decision = decide(accountOf(view, accountId), now);
        if (!Array.isArray(decision)) return decision as Rejection;
        return write([{ stream, events: decision }], (after) => accountView(after, accountId, now));
      },
    });
  }
}

/**
 * The checks a posting that names a transaction type goes through, besides the posting's.
 * `accounts`: the posting's accounts as the decision reads them (before the posting).
 */
interface TypedPostingCheck {
  /** The type exists and every account may take part (before the posting is decided). */
  refuse(accounts: ReadonlyMap<string, AccountState>): Rejection | undefined;
  /** No paying account goes over its limit (on the posting as decided). */
  overLimit(
    accounts: ReadonlyMap<string, AccountState>,
    decision: PostingDecision,
    now: Date,
  ): Rejection | undefined;
}

const untypedPosting: TypedPostingCheck = {
  refuse: () => undefined,
  overLimit: () => undefined,
};

function postingWrite(
  decision: PostingDecision,
  view: StreamView,
  ownStream: string,
  claim: string | undefined,
  accountIds: readonly string[],
  now: Date,
): Decision<PostingResult> {
  if (decision.kind === "rejection") return decision;
  if (decision.kind === "replay") {
    // The original answer: the posting as it was recorded, even if it was reversed since.
    const asRecorded: Posting = { ...decision.posting, status: "POSTED", reversedBy: null };
    return {
      kind: "answer",
      result: {
        posting: asRecorded,
        balances: balancesOfAccounts(view, decision.posting, now),
      },
      position: view.firstPosition(ownStream),
    };
  }
  const events: Array<{ stream: string; events: readonly DomainEvent[] }> = [];
  // The decider folded the new posting's stream and every account's already (it had to, to
  // check the funds): the pipeline takes those states instead of folding the events again.
  const statesAfter = new Map<string, unknown>();
  for (const [postingId, postingEvents] of decision.postingEvents) {
    events.push({ stream: postingStream(postingId), events: postingEvents });
  }
  statesAfter.set(postingStream(decision.posting.id), decision.posting);
  for (const [accountId, accountEvents] of decision.accountEvents) {
    const stream = accountStream(accountId);
    events.push({ stream, events: accountEvents });
    statesAfter.set(stream, decision.accountsAfter.get(accountId));
  }
  if (claim !== undefined && decision.reference !== null) {
    const claimed: DomainEvent = {
      type: "ReferenceClaimed",
      data: { reference: decision.reference, postingId: decision.posting.id },
    };
    events.push({ stream: claim, events: [claimed] });
  }
  return write(
    events,
    (after) =>
      postingResult(
        decision.posting,
        accountIds.map((accountId) => accountOf(after, accountId)),
        now,
      ),
    statesAfter,
  );
}

function balancesOfAccounts(view: StreamView, posting: Posting, now: Date): BalanceView[] {
  return unique(posting.entries.map((entry) => entry.accountId)).flatMap((accountId) => {
    const account = accountOf(view, accountId);
    return account === undefined ? [] : [balanceView(account, now)];
  });
}

/**
 * A posting's result. Its balances are formatted only when someone reads them (the HTTP answer
 * does not): the account states are taken now, and they never change once made.
 */
function postingResult(
  posting: Posting,
  accounts: readonly AccountState[],
  now: Date,
): PostingResult {
  let balances: BalanceView[] | undefined;
  return {
    posting,
    get balances() {
      balances ??= accounts.flatMap((account) =>
        account === undefined ? [] : [balanceView(account, now)],
      );
      return balances;
    },
  };
}

/** A write decision; `statesAfter`: streams whose state after `events` the decider knows. */
export function write<Result>(
  events: ReadonlyArray<{ readonly stream: string; readonly events: readonly DomainEvent[] }>,
  respond: (view: StreamView) => Result,
  statesAfter?: ReadonlyMap<string, unknown>,
): Decision<Result> {
  if (statesAfter === undefined) return { kind: "write", events, respond };
  return { kind: "write", events, respond, statesAfter };
}

export function accountOf(view: StreamView, accountId: string): AccountState {
  return view.state(accountStream(accountId)) as AccountState;
}

export function accountsOf(
  view: StreamView,
  accountIds: readonly string[],
): Map<string, AccountState> {
  const accounts = new Map<string, AccountState>();
  for (const accountId of accountIds) accounts.set(accountId, accountOf(view, accountId));
  return accounts;
}

function accountView(view: StreamView, accountId: string, now: Date): AccountView {
  const account = accountOf(view, accountId);
  if (account === undefined) throw new Error(`account ${accountId} vanished after its own command`);
  return { account, balances: balanceView(account, now) };
}

export function balanceView(account: Account, now: Date): BalanceView {
  const balances = balancesOf(account, now);
  return {
    accountId: account.id,
    currency: account.currency,
    posted: formatAmount(balances.posted, account.currency),
    held: formatAmount(balances.held, account.currency),
    available: formatAmount(balances.available, account.currency),
    overdraftLimit: formatAmount(balances.overdraftLimit, account.currency),
  };
}

function holdResult(
  view: StreamView,
  accountId: string,
  holdId: string,
  status: HoldResult["status"],
  now: Date,
): HoldResult {
  const { account, balances } = accountView(view, accountId, now);
  const hold = account.holds.get(holdId);
  return {
    holdId,
    accountId,
    amount: hold ? formatAmount(hold.amount, account.currency) : "",
    currency: account.currency,
    status,
    expiresAt: hold?.expiresAt ?? null,
    balances,
  };
}

export function contextOf(actor: Actor): AppendContext {
  return {
    correlationId: actor.correlationId,
    principal: actor.principal,
    occurredAt: new Date(),
    ...(actor.idempotencyKey === undefined ? {} : { idempotencyKey: actor.idempotencyKey }),
  };
}

export function rejected<Result>(rejection: Rejection): CommandOutcome<Result> {
  return { ok: false, rejection };
}

function postingNotFound(postingId: string): Rejection {
  return reject("POSTING_NOT_FOUND", `posting ${postingId} does not exist`, { postingId });
}

export function idempotencyKeyReused(): Rejection {
  return reject(
    "IDEMPOTENCY_KEY_REUSED",
    "this Idempotency-Key was already used with a different request",
  );
}

function holdNotFound(holdId: string): Rejection {
  return reject("HOLD_NOT_FOUND", `hold ${holdId} does not exist`, { holdId });
}

export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
