import { randomInt } from "node:crypto";
import { CommandPipeline } from "./src/commands/pipeline.js";
import { MemoryEventStore } from "./bench/memory-store.js";

const mode = process.env.LAB ?? "trivial";
const store = new MemoryEventStore();
const pipeline = new CommandPipeline(store, {});
const accounts = Array.from({ length: 200 }, (_, i) => `acct-${i}`);
let n = 0;
let seq = 0;
async function submitter(end: number) {
  while (performance.now() < end) {
    const a = accounts[randomInt(accounts.length)] as string;
    let b = accounts[randomInt(accounts.length)] as string;
    if (b === a) b = accounts[(accounts.indexOf(a) + 1) % accounts.length] as string;
    const own = `post-${seq++}`;
    const outcome = await pipeline.submit({
      streams: [own, a, b],
      presumedNew: [own],
      uncached: [own],
      context: { correlationId: "c", principal: "p", occurredAt: new Date() },
      decide: (view) => ({
        kind: "write",
        events: [
          { stream: own, events: [{ type: "P", data: { n } }] },
          { stream: a, events: [{ type: "E", data: { n } }] },
          { stream: b, events: [{ type: "E", data: { n } }] },
        ],
        respond: () => n,
        statesAfter: new Map<string, unknown>([[own, { n }], [a, { n }], [b, { n }]]),
      }),
    });
    if (!outcome.ok) throw new Error("refused");
    n++;
  }
}
const seconds = Number(process.env.SECONDS ?? 10);
const start = performance.now();
await Promise.all(Array.from({ length: 64 }, () => submitter(start + seconds * 1000)));
console.log(`│ 0 │ '${mode}' │ ${Math.round(n / seconds)} │`);
