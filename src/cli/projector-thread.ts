/**
 * The ledger and transactions projectors on a worker thread of their own (projector-worker.ts),
 * so that projecting never takes the event loop from the API and the command pipeline: under
 * load the read models cost the server about as much CPU as the commands themselves, and on a
 * single thread one waits for the other. The thread opens its own pool, store and notification
 * listener; it reports every status change (each batch's checkpoint, a failure), and this side
 * answers `waitFor` (X-Min-Position), `status` and `lag` from those reports, as a runner in
 * the process would. A thread that dies is a failed projector: health turns failing, as it
 * does when a runner stops on an event, and nothing is projected until a restart.
 */
import { Worker } from "node:worker_threads";
import { workerBootstrap } from "../audit/chain.js";
import { type LogPosition, parsePosition } from "../eventstore/port.js";
import type { Lag, LagProbe } from "../projections/lag.js";
import { ProjectedPosition } from "../projections/projected-position.js";
import type { Projector, ProjectorStatus } from "../projections/runner.js";

export interface ProjectorThreadConfig {
  readonly databaseUrl: string;
  /** The role the thread's sessions work as (the server's least-privilege one). */
  readonly role?: string;
  readonly poolSizeMax: number;
  /** Set when the events live in KurrentDB (the read models stay in Postgres). */
  readonly kurrentDbUrl?: string;
}

export type ThreadRequest = { readonly kind: "stop" };

export type ThreadReply =
  | { readonly kind: "ready"; readonly statuses: readonly ProjectorStatus[] }
  | { readonly kind: "startFailed"; readonly message: string }
  | { readonly kind: "status"; readonly status: ProjectorStatus }
  | {
      readonly kind: "log";
      readonly level: "error" | "warn";
      readonly details: object;
      readonly message: string;
    }
  | { readonly kind: "stopped" };

export interface ProjectorThreadLogger {
  error(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** One of the thread's projectors, as this side knows it from the thread's reports. */
class ThreadProjector implements Projector {
  private current: ProjectorStatus;
  private readonly projected = new ProjectedPosition();

  constructor(
    initial: ProjectorStatus,
    private readonly lagProbe: LagProbe,
  ) {
    this.current = initial;
    this.projected.set(positionOf(initial));
  }

  status(): ProjectorStatus {
    return this.current;
  }

  waitFor(position: LogPosition, waitMs: number): Promise<boolean> {
    return this.projected.waitFor(position, waitMs);
  }

  lag(): Promise<Lag> {
    return this.lagProbe(this.projected.value);
  }

  report(status: ProjectorStatus): void {
    this.current = status;
    this.projected.set(positionOf(status));
  }

  /** The thread is gone: what it had not reported failed with it. */
  lost(message: string): void {
    if (this.current.state !== "running") return;
    const position = this.current.position ?? "";
    this.current = {
      ...this.current,
      state: "failed",
      failure: { message, stream: "", revision: -1, position, type: "" },
    };
  }
}

export class ProjectorThread {
  private stopping = false;
  private readonly stopped: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    readonly projectors: readonly ThreadProjector[],
    logger: ProjectorThreadLogger,
  ) {
    const byName = new Map(projectors.map((projector) => [projector.status().name, projector]));
    worker.on("message", (reply: ThreadReply) => {
      if (reply.kind === "status") byName.get(reply.status.name)?.report(reply.status);
      else if (reply.kind === "log") logger[reply.level](reply.details, reply.message);
    });
    worker.on("error", (error) => {
      logger.error({ err: error }, "the projector thread failed");
      for (const projector of projectors) projector.lost(`the projector thread failed: ${error}`);
    });
    this.stopped = new Promise((resolve) => {
      worker.once("exit", (code) => {
        if (!this.stopping) {
          logger.error({ code }, "the projector thread exited");
          for (const projector of projectors) {
            projector.lost(`the projector thread exited (code ${code})`);
          }
        }
        resolve();
      });
    });
  }

  /** Starts the thread; resolves once both projectors run (each from its checkpoint). */
  static async start(
    config: ProjectorThreadConfig,
    options: { readonly logger: ProjectorThreadLogger; readonly lagProbe: LagProbe },
  ): Promise<ProjectorThread> {
    const url = new URL("./projector-worker.ts", import.meta.url);
    const worker = new Worker(workerBootstrap(url), { eval: true, workerData: config });
    const statuses = await new Promise<readonly ProjectorStatus[]>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new Error(`the projector thread exited (code ${code}) before it started`));
      worker.once("error", reject);
      worker.once("exit", onExit);
      const onMessage = (reply: ThreadReply) => {
        if (reply.kind !== "ready" && reply.kind !== "startFailed") return;
        worker.off("message", onMessage);
        worker.off("error", reject);
        worker.off("exit", onExit);
        if (reply.kind === "ready") resolve(reply.statuses);
        else reject(new Error(`the projector thread did not start: ${reply.message}`));
      };
      worker.on("message", onMessage);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    const projectors = statuses.map((status) => new ThreadProjector(status, options.lagProbe));
    return new ProjectorThread(worker, projectors, options.logger);
  }

  /** Stops both projectors after the batch in hand and closes the thread's connections. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      const request: ThreadRequest = { kind: "stop" };
      this.worker.postMessage(request);
    }
    await this.stopped;
    for (const projector of this.projectors) {
      const status = projector.status();
      if (status.state === "running") projector.report({ ...status, state: "stopped" });
    }
  }
}

function positionOf(status: ProjectorStatus): LogPosition | undefined {
  return status.position === null ? undefined : parsePosition(status.position);
}
