/**
 * The catch-up loop behind `subscribe`: read a page after the last position, hand it over,
 * repeat; when nothing is left, wait for a notification or the poll interval.
 */
import type { LogPosition, ReadAllResult, Subscription, SubscriptionHandler } from "../port.js";
import type { NotificationListener } from "./listener.js";

export interface SubscriptionLoop {
  readonly read: (fromPosition: LogPosition | undefined) => Promise<ReadAllResult>;
  readonly fromPosition?: LogPosition;
  readonly listener?: NotificationListener;
  readonly pollIntervalMs: number;
  readonly handler: SubscriptionHandler;
}

/** First pause after a notification that showed nothing yet; doubles up to the poll interval. */
const announcedRetryMsMin = 1;

export function runSubscription(loop: SubscriptionLoop): Subscription {
  let position = loop.fromPosition;
  let stopped = false;
  let announced = false;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const unsubscribe = loop.listener?.onNotify(() => {
    announced = true;
    wakeUp();
  });

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(wakeUp, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  // An announced commit can stay invisible while an older transaction is still open (its xid
  // holds the horizon back); no second notification will come, so look again soon.
  let announcedRetryMs = 0;
  function idleWaitMs(): number {
    if (announced) {
      announced = false;
      announcedRetryMs = announcedRetryMsMin;
    } else if (announcedRetryMs > 0) {
      announcedRetryMs *= 2;
    }
    if (announcedRetryMs > 0 && announcedRetryMs < loop.pollIntervalMs) return announcedRetryMs;
    announcedRetryMs = 0;
    return loop.pollIntervalMs;
  }

  async function run(): Promise<void> {
    while (!stopped) {
      const page = await loop.read(position);
      if (stopped) break; // the page is not handed over, so the position must not pass it
      if (page.lastPosition === undefined) {
        await pause(idleWaitMs());
        continue;
      }
      // Also a page the filter kept nothing of: the subscriber's checkpoint moves past it.
      await loop.handler(page.events, page.lastPosition);
      position = page.lastPosition;
      announcedRetryMs = 0;
    }
  }

  const done = run().finally(() => unsubscribe?.());
  // `done` is the owner's to await; keep an unobserved rejection from crashing the process.
  done.catch(() => undefined);

  return {
    async stop() {
      stopped = true;
      wakeUp();
      await done.catch(() => undefined);
    },
    done,
    position: () => position,
  };
}
