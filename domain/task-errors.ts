/**
 * Why a task failed or was cancelled, as stored in `tasks.error`: a code, and for some codes one
 * detail (`repo_conflict:main`, `aider_timeout:600`). Lower layers record these; bot/ words them.
 */
export const TASK_ERROR_CODES = [
  'cancelled_queued',
  'cancelled_running',
  'discarded',
  'no_change_to_push',
  'repo_conflict',
  'repo_auth',
  'repo_remote',
  'repo_rejected',
  'repo_state',
  'aider_start',
  'sandbox_unavailable',
  'aider_timeout',
  'aider_failed',
  'too_large',
  'secret_in_change',
  'stopped_running',
  'stopped_pushing',
  'stopped_discarding',
  'pr_auth',
  'pr_refused',
  'pr_unavailable',
  'pr_off',
  'repo_unknown',
  'superseded',
  'over_budget',
  'unexpected',
] as const
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[number]
const CODES: ReadonlySet<string> = new Set(TASK_ERROR_CODES)

export const taskError = (code: TaskErrorCode, detail?: string | number) => (detail === undefined ? code : `${code}:${String(detail).slice(0, 500)}`)

/** The code and detail of a stored error; undefined for text that is not one (rows from before codes). */
export function parseTaskError(stored: string): { code: TaskErrorCode; detail: string | undefined } | undefined {
  const m = /^([a-z_]+)(?::([\s\S]*))?$/.exec(stored)
  return m && CODES.has(m[1]!) ? { code: m[1] as TaskErrorCode, detail: m[2] } : undefined
}
