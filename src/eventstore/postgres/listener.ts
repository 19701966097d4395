/**
 * LISTEN on a dedicated connection (never a pooled one: a pooled connection is handed to
 * others and its LISTEN would go with it). A notification is only a hint that an append
 * committed; subscribers poll as well, so a lost notification costs latency, never an event.
 *
 * Appends announce themselves after they commit, on this same connection, coalesced: at most
 * one NOTIFY in flight and one more queued behind it. A NOTIFY inside the append's own
 * transaction would take Postgres's notification lock at commit and hold it through the WAL
 * flush, so every append of the cluster would commit one after another, each waiting for the
 * previous fsync. The announcing connection runs with synchronous_commit off: a notification
 * needs no durability.
 */
import pg from "pg";

export const notifyChannel = "nova_events";

export interface NotificationListener {
  /** Calls `callback` on every notification until the returned function is called. */
  onNotify(callback: () => void): () => void;
  /** Tells every listener, this process's included, that an append committed. */
  announce(): void;
}

const reconnectDelayMsMax = 5_000;

export class PostgresNotificationListener implements NotificationListener {
  private client: pg.Client | undefined;
  private readonly callbacks = new Set<() => void>();
  private closed = false;
  private reconnectDelayMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private announcing = false;
  private announcePending = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onConnectionError: (error: unknown) => void = () => {},
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("notification", () => this.notifyAll());
    client.on("error", (error) => this.reconnectAfter(error));
    await client.connect();
    await client.query("SET synchronous_commit TO off");
    await client.query(`LISTEN ${notifyChannel}`);
    this.client = client;
    this.reconnectDelayMs = 100;
    // Events may have committed while no one listened: let every subscriber look.
    this.notifyAll();
  }

  onNotify(callback: () => void): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }

  announce(): void {
    const client = this.client;
    if (client === undefined) return;
    if (this.announcing) {
      this.announcePending = true;
      return;
    }
    this.announcing = true;
    client
      .query(`SELECT pg_notify('${notifyChannel}', '')`)
      .catch(() => undefined)
      .finally(() => {
        this.announcing = false;
        if (!this.announcePending) return;
        this.announcePending = false;
        this.announce();
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private notifyAll(): void {
    for (const callback of this.callbacks) callback();
  }

  private reconnectAfter(error: unknown): void {
    if (this.closed) return;
    this.onConnectionError(error);
    const broken = this.client;
    this.client = undefined;
    void broken?.end().catch(() => undefined);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.start().catch((retryError: unknown) => this.reconnectAfter(retryError));
    }, this.reconnectDelayMs);
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, reconnectDelayMsMax);
  }
}
