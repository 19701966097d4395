/**
 * How far a projector has applied the log, and the readers waiting for it to pass a position
 * (X-Min-Position). The runner moves it after each committed batch; a projector thread's
 * process side moves it when the thread reports.
 */
import { comparePositions, type LogPosition } from "../eventstore/port.js";

export class ProjectedPosition {
  private waiters: Array<{ position: LogPosition; resolve: () => void }> = [];

  constructor(private current: LogPosition | undefined = undefined) {}

  get value(): LogPosition | undefined {
    return this.current;
  }

  /** Moves to `position` and wakes the readers it satisfies. */
  set(position: LogPosition | undefined): void {
    this.current = position;
    const ready = this.waiters.filter((waiter) => this.hasPassed(waiter.position));
    for (const waiter of ready) waiter.resolve();
  }

  /** Whether the read models have passed `position`, waiting up to `waitMs` for it. */
  async waitFor(position: LogPosition, waitMs: number): Promise<boolean> {
    if (this.hasPassed(position)) return true;
    let timer: NodeJS.Timeout | undefined;
    const waiter = { position, resolve: () => {} };
    const reached = new Promise<boolean>((resolve) => {
      waiter.resolve = () => resolve(true);
      timer = setTimeout(() => resolve(false), waitMs);
    });
    this.waiters.push(waiter);
    const result = await reached;
    clearTimeout(timer);
    this.waiters = this.waiters.filter((other) => other !== waiter);
    return result;
  }

  private hasPassed(position: LogPosition): boolean {
    return this.current !== undefined && comparePositions(this.current, position) >= 0;
  }
}
