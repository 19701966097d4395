/**
 * An event of the Postgres log as the text of its columns (`PostgresEventStore.readAllText`),
 * for readers that parse only what they need. A module of its own so that such a reader (the
 * audit's chain worker) need not load the adapter.
 */
export type EventText = readonly [
  transactionId: string,
  position: string,
  id: string,
  stream: string,
  revision: string,
  type: string,
  data: string,
  metadata: string,
];

/** The index of each column in an EventText. */
export const eventText = {
  transactionId: 0,
  position: 1,
  id: 2,
  stream: 3,
  revision: 4,
  type: 5,
  data: 6,
  metadata: 7,
} as const;
