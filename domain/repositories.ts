/**
 * Repositories by name: the rules for names and remote addresses that config (GIT_REMOTE_URL), /repos
 * and the workspace share. Credentials never travel in an address: tokens come from the environment,
 * per host (GIT_ACCESS_TOKEN for the configured repository's host, GIT_TOKEN_<HOST> for others).
 */

/** A repository's name: what /code web: … and /repo web say. The body, for patterns that find one in a longer text. */
export const REPOSITORY_NAME_BODY = '[a-z][a-z0-9_-]{1,31}'
export const REPOSITORY_NAME = new RegExp(`^${REPOSITORY_NAME_BODY}$`)

/** Why a remote address cannot be used: 'format' (not a git address we take), 'credentials' (a user or token in it). */
export function remoteUrlProblem(url: string): 'format' | 'credentials' | undefined {
  if (url.length > 500 || url.startsWith('-') || /\s/.test(url)) return 'format'
  if (!/^(https:\/\/|ssh:\/\/|file:\/\/|[\w.-]+@[\w.-]+:|\/)/.test(url)) return 'format'
  if (/^https:\/\/[^/]*@/.test(url) || /^ssh:\/\/[^/@]*:[^/@]*@/.test(url)) return 'credentials'
  return undefined
}

/** The host (and port) of a remote address; undefined for a local one. */
export function remoteHost(url: string): string | undefined {
  const scp = /^[\w.-]+@([\w.-]+):/.exec(url)
  if (scp) return scp[1]!.toLowerCase()
  if (!/^(https|ssh):\/\//.test(url)) return undefined
  try {
    return new URL(url).host.toLowerCase() || undefined
  } catch {
    return undefined
  }
}

/**
 * The environment variable that holds a host's token: dots become `_`, hyphens `__` and the port's
 * colon `_PORT_`, so no two hosts share one (git.example.com → GIT_TOKEN_GIT_EXAMPLE_COM,
 * git-example.com → GIT_TOKEN_GIT__EXAMPLE_COM, git.example.com:8443 → GIT_TOKEN_GIT_EXAMPLE_COM_PORT_8443).
 */
export const tokenVariableOf = (host: string) =>
  `GIT_TOKEN_${host
    .toUpperCase()
    .replace(/:/g, '_PORT_')
    .replace(/-/g, '__')
    .replace(/\./g, '_')
    .replace(/[^A-Z0-9_]/g, '_')}`

/** A name for the configured repository, from its address: …/acme/widgets.git → widgets. */
export function repositoryNameOf(url: string): string {
  const last = url.replace(/\/+$/, '').split(/[/:]/).at(-1) ?? ''
  const name = last.replace(/\.git$/, '').toLowerCase().replace(/[^a-z0-9_-]/g, '-').replace(/^[^a-z]+/, '').slice(0, 32)
  return REPOSITORY_NAME.test(name) ? name : 'main'
}

/** owner/name of a github.com remote (https, ssh or scp-like), else undefined. */
export function githubRepositoryOf(remoteUrl: string): string | undefined {
  const m = /^(?:https:\/\/github\.com\/|ssh:\/\/git@github\.com\/|git@github\.com:)([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(remoteUrl)
  return m?.[1]
}

/** owner/name as GITHUB_REPOSITORY and /repos add take it. */
export const GITHUB_REPOSITORY = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/
