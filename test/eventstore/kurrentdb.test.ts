/**
 * The event store contract against KurrentDB: a server at `KURRENTDB_URL`, or else one started
 * with Testcontainers when a Docker engine answers. Without either, the suite is skipped and
 * says so, so a green run never hides that KurrentDB went untested.
 */
import { existsSync } from "node:fs";
import { describe, it } from "vitest";
import { KurrentDbEventStore } from "../../src/eventstore/kurrentdb/kurrentdb-event-store.js";
import { describeEventStoreContract } from "./contract.js";

const kurrentDbImage = "kurrentplatform/kurrentdb:26.1";
const skippedMessage =
  "KurrentDB contract tests skipped: set KURRENTDB_URL or start a Docker engine";

interface KurrentDbServer {
  readonly connectionString: string;
  readonly stop: () => Promise<void>;
}

// Started while the file is collected, not in a hook: pulling the image on a first run can
// take longer than the hook timeout.
const server = await findServer();

if (server === undefined) {
  console.log(skippedMessage);
  describe.skip("event store contract: kurrentdb", () => {
    it("needs a KurrentDB server", () => {});
  });
} else {
  describeEventStoreContract("kurrentdb", async () => {
    const store = new KurrentDbEventStore(server.connectionString);
    return {
      store,
      teardown: async () => {
        await store.close();
        await server.stop();
      },
    };
  });
}

async function findServer(): Promise<KurrentDbServer | undefined> {
  const url = process.env.KURRENTDB_URL;
  if (url !== undefined && url.trim() !== "") {
    return { connectionString: url, stop: async () => {} };
  }
  if (!(await dockerAnswers())) return undefined;
  const { KurrentDbContainer } = await import("@testcontainers/kurrentdb");
  const container = await new KurrentDbContainer(kurrentDbImage).start();
  return {
    connectionString: container.getConnectionString(),
    stop: async () => {
      await container.stop();
    },
  };
}

/** Cheap checks first (a socket or DOCKER_HOST), then one question to the engine itself. */
async function dockerAnswers(): Promise<boolean> {
  const hinted = process.env.DOCKER_HOST !== undefined || existsSync("/var/run/docker.sock");
  if (!hinted) return false;
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}
