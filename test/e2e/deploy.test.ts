import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse as parseToml } from 'smol-toml'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CONFIG_VARIABLES } from '../../config.ts'
import { ADMIN_ID, Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { waitUntil } from '../support/http.ts'
import { ServiceProcess } from '../support/service.ts'
import pkg from '../../package.json' with { type: 'json' }

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8')

interface FlyToml {
  kill_signal: string
  kill_timeout: number
  build: { dockerfile: string }
  deploy: { release_command: string; strategy: string }
  env: Record<string, string>
  http_service: { internal_port: number; min_machines_running: number; auto_stop_machines: string; checks: Array<{ path: string; method: string }> }
  metrics: { port: number; path: string }
  vm: Array<{ memory: string }>
}

describe('deploy files agree with each other and with the app', () => {
  const fly = parseToml(read('fly.toml')) as unknown as FlyToml
  const dockerfile = read('Dockerfile')
  const workflow = read('.github/workflows/deploy.yml')
  const ciRun = read('.ci/run')
  /** The value of `KEY=value` (ARG, ENV or shell) in a file. */
  const setting = (text: string, key: string) => new RegExp(`\\b${key}=("?)([^\\s"]+)\\1`).exec(text)?.[2]

  test('ports, health path, metrics path and start command line up', () => {
    const exposed = Number(/^EXPOSE (\d+)$/m.exec(dockerfile)?.[1])
    expect(exposed).toBe(3000)
    expect(fly.http_service.internal_port).toBe(exposed)
    expect(Number(setting(dockerfile, 'PORT'))).toBe(exposed)
    expect(Number(fly.env.PORT)).toBe(exposed)
    expect(fly.metrics).toEqual({ port: exposed, path: '/metrics' })
    expect(fly.http_service.checks.map((c) => [c.method, c.path])).toEqual([['GET', '/health']])
    expect(dockerfile).toMatch(/HEALTHCHECK [\s\S]*\/health/)
    // The image runs what CI builds and starts: `npm ci`, `npm run build`, then the start:prod command.
    expect(dockerfile).toMatch(/^RUN npm ci\b/m)
    expect(dockerfile).toMatch(/^RUN npm run build\b/m)
    expect(/^CMD \["node", "dist\/main\.js"\]$/m.test(dockerfile)).toBe(true)
    expect(pkg.scripts['start:prod']).toBe('node dist/main.js')
    expect(fly.deploy.release_command).toBe(pkg.scripts['migrate:prod'])
    expect(fly.build.dockerfile).toBe('Dockerfile')
  })

  test('the image: pinned versions as CI has them, a non-root user, an init process', () => {
    expect(setting(dockerfile, 'NODE_VERSION')).toBe(setting(ciRun, 'NODE_VERSION'))
    expect(setting(dockerfile, 'AIDER_VERSION')).toBe(setting(ciRun, 'AIDER_VERSION'))
    expect(dockerfile).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS runtime$/m)
    expect(dockerfile).toMatch(/^USER mechanic$/m)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m)
    expect(dockerfile).toMatch(/install .*\bgit\b.*\bopenssh-client\b/)
    expect(dockerfile).toMatch(/npm prune --omit=dev/)
    expect(setting(dockerfile, 'AIDER_BIN')).toBe('/opt/aider/bin/aider')
  })

  test('fly: rolling deploys, never idle-stopped, SIGTERM with room for the shutdown grace', () => {
    expect(fly.deploy.strategy).toBe('rolling')
    expect(fly.http_service.min_machines_running).toBeGreaterThanOrEqual(1)
    expect(fly.http_service.auto_stop_machines).toBe('off')
    expect(fly.kill_signal).toBe('SIGTERM')
    // main.ts exits at the latest 10 s after the grace; Fly must not SIGKILL before that.
    expect(fly.kill_timeout).toBeGreaterThan(Number(fly.env.SHUTDOWN_GRACE_SECONDS) + 10)
    expect(parseInt(fly.vm[0]!.memory)).toBeGreaterThanOrEqual(2)
  })

  test('the workflow tests with the README command, then deploys remotely, one at a time', () => {
    expect(read('README.md')).toMatch(/^npm ci && npm test$/m)
    expect(ciRun.trimEnd().split('\n').at(-1)).toBe('npm test')
    expect(workflow).toMatch(/run: bash \.ci\/run/)
    expect(workflow).toMatch(/needs: test/)
    expect(workflow).toMatch(/flyctl deploy --remote-only/)
    expect(workflow).toMatch(/FLY_API_TOKEN: \$\{\{ secrets\.FLY_API_TOKEN \}\}/)
    expect(workflow).toMatch(/concurrency:\n\s+group: deploy-production\n\s+cancel-in-progress: false/)
    expect(workflow).toMatch(/branches: \[main\]/)
  })

  test('every variable the app reads is documented, and every one the deploy sets is read', () => {
    const example = read('.env.example')
    const readme = read('README.md')
    const deployDoc = read('docs/deploy.md')
    const internal = ['PATH', 'TEST_TOOL_FILE'] // not configuration a person sets
    for (const name of CONFIG_VARIABLES.filter((n) => !internal.includes(n))) {
      expect(example, `.env.example lacks ${name}`).toMatch(new RegExp(`^#? ?${name}=`, 'm'))
      expect(readme, `README lacks ${name}`).toContain(`\`${name}\``)
    }
    for (const name of Object.keys(fly.env)) expect(CONFIG_VARIABLES).toContain(name)
    const imageEnv = /^ENV ([\s\S]*?)\n\n/m.exec(dockerfile)?.[1] ?? ''
    const imageNames = [...imageEnv.matchAll(/(\w+)=/g)].map((m) => m[1]!).filter((n) => n !== 'NODE_ENV')
    expect(imageNames).toEqual(['COMMIT_SHA', 'HOST', 'PORT', 'DATA_DIR', 'WORKSPACE_DIR', 'AIDER_BIN'])
    for (const name of imageNames) expect(CONFIG_VARIABLES).toContain(name)
    // The secrets: set with `fly secrets set`, never in fly.toml.
    const secrets = ['TELEGRAM_BOT_TOKEN', 'TELEGRAM_WEBHOOK_SECRET', 'OPENROUTER_API_KEY', 'DATABASE_URL', 'GIT_ACCESS_TOKEN']
    for (const name of secrets) {
      expect(deployDoc, `docs/deploy.md does not set ${name}`).toMatch(new RegExp(`fly secrets set[^\\n]*\\b${name}=|^\\s+${name}=`, 'm'))
      expect(Object.keys(fly.env)).not.toContain(name)
    }
  })
})

describe('the production build, started as the image starts it', () => {
  let h: Harness
  beforeAll(async () => {
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', env: process.env })
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`)
    h = await Harness.create()
  }, 120_000)
  afterAll(() => h.closeAndCheckLogs())

  test('the build stage of the image copies every source the build compiled', () => {
    const dockerfile = read('Dockerfile')
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '))
    for (const entry of readdirSync(`${ROOT}dist`, { withFileTypes: true })) {
      if (entry.isDirectory()) expect(copied, `the Dockerfile does not copy ${entry.name}/`).toContain(entry.name)
      else if (entry.name.endsWith('.js')) expect(copied.some((c) => c === '*.ts' || c === entry.name.replace(/\.js$/, '.ts')), `the Dockerfile does not copy ${entry.name}`).toBe(true)
    }
  })

  test('migrations, /health, a round trip and the metrics, from dist/ with production settings', async () => {
    const env = h.env({ NODE_ENV: 'production', LOG_LEVEL: 'info', COMMIT_SHA: 'feedface1234' })
    const migrate = spawnSync(process.execPath, ['dist/main.js', 'migrate'], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } })
    expect(migrate.status).toBe(0)
    expect(migrate.stdout).toMatch(/"msg":"migrations done"/)

    const service = await ServiceProcess.start(env, { entry: `${ROOT}dist/main.js` })
    h.services.push(service)
    const health = await service.health()
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('ok')

    for (const text of ['one', 'two', 'three']) await service.deliver(h.text(text), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(USER_ID, 3)).toEqual(['[assistant] echo: one', '[assistant] echo: two', '[assistant] echo: three'])
    await service.deliver(h.text('/status', { userId: ADMIN_ID }), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(ADMIN_ID, 1))[0]).toMatch(/^Mechanic \d+\.\d+\.\d+ \(feedface1234\)/)

    const metrics = await waitUntil(async () => {
      const text = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text()
      return /mechanic_updates_handled_total\{outcome="done"\} 4/.test(text) ? text : undefined
    }, 'the handled counter to reach 4')
    const value = (pattern: string) => Number(new RegExp(`^${pattern} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN)
    expect(value('mechanic_updates_received_total\\{kind="message"\\}')).toBe(4)
    expect(value('mechanic_model_call_seconds_count\\{agent="assistant",model="test-model",outcome="ok"\\}')).toBe(3)
    expect(value('mechanic_model_tokens_total\\{agent="assistant",model="test-model",direction="input"\\}')).toBeGreaterThan(0)
    expect(value('mechanic_model_tokens_total\\{agent="assistant",model="test-model",direction="output"\\}')).toBeGreaterThan(0)
    expect(value('mechanic_update_handling_seconds_count\\{kind="message"\\}')).toBe(4)
    expect(value('mechanic_inbox_lag_seconds_count')).toBe(4)
    expect(value('mechanic_inbox_depth\\{state="queued"\\}')).toBe(0)
    expect(value('mechanic_approvals\\{status="pending"\\}')).toBe(0)
    expect(value('mechanic_tasks\\{status="running"\\}')).toBe(0)
    expect(metrics).toMatch(/^mechanic_process_cpu_seconds_total /m)
    expect(await service.stop()).toEqual({ code: 0, signal: null })
  })
})
