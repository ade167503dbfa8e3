import { createApp, prepareSchema } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import type { Config } from './config.ts'
import { openDatabase } from './db/database.ts'
import { DataDirLockedError } from './db/dir-lock.ts'
import { McpConfigError } from './services/mcp.ts'
import { createLogger } from './logger.ts'
import type { Logger } from './logger.ts'

/** `npm run migrate` (Fly's release command): the schema, and nothing else. */
async function migrateOnly(config: Config, log: Logger): Promise<void> {
  const db = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir, log })
  try {
    await prepareSchema(db, log, config.embeddings.dim)
  } finally {
    await db.close()
  }
  log.info('migrations done')
}

/** Runs the service until SIGTERM or SIGINT, then stops it within the grace period (never hanging a deploy). */
async function serve(config: Config, log: Logger): Promise<void> {
  const app = await createApp(config, log)
  let stopping = false
  const onSignal = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    setTimeout(() => process.exit(1), config.shutdownGraceMs + 10_000).unref()
    app.stop().then(
      () => {
        log.info('stopped')
        log.flush()
        process.exit(0)
      },
      (err: unknown) => {
        log.fatal({ err }, 'unclean shutdown')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  await app.start()
}

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`${err.message}\n`)
  process.exit(1)
}
const log = createLogger({ level: config.logLevel, secrets: config.secrets })
try {
  await (process.argv[2] === 'migrate' ? migrateOnly(config, log) : serve(config, log))
} catch (err) {
  const plain = err instanceof DataDirLockedError || err instanceof McpConfigError
  if (plain) log.fatal(err.message)
  else log.fatal({ err }, 'could not start')
  log.flush()
  process.stderr.write(`${plain ? err.message : 'Mechanic could not start; see the log above.'}\n`)
  process.exit(1)
}
