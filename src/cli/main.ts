/**
 * `nova`: the command line. `nova serve` (what `npm start` runs), `nova migrate`, `nova help`.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { auditCommand } from "./audit.js";
import { demoCommand, seedCommand } from "./catalogue.js";
import { createLogger, openDatabase } from "./connect.js";
import { keysCommand } from "./keys.js";
import { projectionsCommand } from "./projections.js";
import { startServer } from "./runtime.js";

const usage = `Usage: nova <command>

Commands:
  serve     start the HTTP API (embedded Postgres unless DATABASE_URL is set)
  migrate   apply the SQL migrations in migrations/ and exit
  keys      API keys: keys create --name <n> --scopes a,b | keys revoke <id> | keys list
  audit     audit verify [--stream S] [--json]: replay the event store, check it and the read models
  projections  projections status [--json] | projections rebuild [--batch-size N]: where each
            projector stands; replay the log into fresh read models and switch over atomically
  seed      seed catalogue [--currency XCD] [--json]: define the mobile-money catalogue (idempotent)
  demo      demo [--json]: seed, open demo agents and customers, transact, print the balances
  help      show this text

Configuration comes from the environment; see README.md.`;

/** How long a graceful shutdown may take before the process exits anyway. */
const shutdownMsMax = 15_000;

async function serve(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  const server = await startServer(config, logger);
  logger.info({ address: server.address }, "Nova Ledger is serving");
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const deadline = setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, shutdownMsMax);
    deadline.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

async function migrateCommand(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  const database = await openDatabase(config, logger);
  try {
    const report = await migrate(database.url);
    logger.info({ applied: report.applied, version: report.version }, "database migrated");
  } finally {
    await database.embedded?.stop();
  }
}

const commands: Readonly<Record<string, () => Promise<void>>> = {
  serve,
  migrate: migrateCommand,
  keys: () => keysCommand(process.argv.slice(3)),
  audit: () => auditCommand(process.argv.slice(3)),
  projections: () => projectionsCommand(process.argv.slice(3)),
  seed: () => seedCommand(process.argv.slice(3)),
  demo: () => demoCommand(process.argv.slice(3)),
  help: async () => console.log(usage),
};

async function main(argv: readonly string[]): Promise<void> {
  const { positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: false });
  const command = commands[positionals[0] ?? "help"];
  if (command === undefined) {
    console.error(`unknown command "${positionals[0]}"\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  await command();
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exitCode = 1;
});
