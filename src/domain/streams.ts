/**
 * Stream names: part of the public audit contract (DESIGN.md "Event model"), defined here once.
 */
export const streamPrefixes = {
  account: "account-",
  posting: "posting-",
  hold: "hold-",
  reference: "reference-",
  // Not "account-type-": a reader filtering on "account-" must not get configuration.
  accountType: "config-account-type-",
  transactionType: "config-transaction-type-",
  /** A domain transaction (business level: type, parties, status history). */
  transaction: "transaction-",
} as const;

export const accountStream = (accountId: string) => `${streamPrefixes.account}${accountId}`;
export const postingStream = (postingId: string) => `${streamPrefixes.posting}${postingId}`;
export const holdStream = (holdId: string) => `${streamPrefixes.hold}${holdId}`;
/** A reference is free text; its stream is named by the reference's SHA-256 (hex), given in. */
export const referenceStream = (referenceHash: string) =>
  `${streamPrefixes.reference}${referenceHash}`;
export const accountTypeStream = (code: string) => `${streamPrefixes.accountType}${code}`;
export const transactionTypeStream = (code: string) => `${streamPrefixes.transactionType}${code}`;
export const transactionStream = (transactionId: string) =>
  `${streamPrefixes.transaction}${transactionId}`;
