/** The worker thread of ChainWorker (chain.ts): checks the hash chains of the pages it is sent. */
import { parentPort } from "node:worker_threads";
import { type ChainReply, type ChainRequest, serveChainCheck } from "./chain.js";

const port = parentPort;
if (port === null) throw new Error("chain-worker.ts runs as a worker thread of ChainWorker");
const handle = serveChainCheck((reply: ChainReply) => port.postMessage(reply));
port.on("message", (request: ChainRequest) => handle(request));
