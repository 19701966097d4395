import { KurrentDBClient, jsonEvent } from "@kurrent/kurrentdb-client";
const c = KurrentDBClient.connectionString("kurrentdb://localhost:2199?tls=false&maxDiscoverAttempts=1&discoveryInterval=100&gossipTimeout=1");
const t0 = Date.now();
try { for await (const e of c.readStream("x", { maxCount: 1 })) console.log(e); } catch (e) { console.log("read", e.constructor.name, e.type, e.message, Date.now()-t0); }
const t1 = Date.now();
try { await c.multiStreamAppend([{ streamName: "x", expectedState: "any", events: [jsonEvent({ type: "A", data: {} })] }]); } catch (e) { console.log("append", e.constructor.name, e.type, e.message, Date.now()-t1); }
const t2 = Date.now();
const s = c.subscribeToAll({});
s.on("error", (e) => console.log("sub", e.constructor.name, e.type, e.message, Date.now()-t2));
await new Promise(r => setTimeout(r, 3000));
await c.dispose();
