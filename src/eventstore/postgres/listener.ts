/**
 * LISTEN on a dedicated connection (never a pooled one: a pooled connection is handed to
 * others and its LISTEN would go with it). A notification is only a hint that an append
 * committed; subscribers poll as well, so a lost notification costs latency, never an event.
 */
import pg from "pg";

export const notifyChannel = "nova_events";

export interface NotificationListener {
  /** Calls `callback` on every notification until the returned function is called. */
  onNotify(callback: () => void): () => void;
}

const reconnectDelayMsMax = 5_000;

export class PostgresNotificationListener implements NotificationListener {
  private client: pg.Client | undefined;
  private readonly callbacks = new Set<() => void>();
  private closed = false;
  private reconnectDelayMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onConnectionError: (error: unknown) => void = () => {},
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("notification", () => this.notifyAll());
    client.on("error", (error) => this.reconnectAfter(error));
    await client.connect();
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
