/** An agent's name: how people address it (`@name`) and how buttons and the table carry it. */
/** The pattern's body, for patterns that find a name inside a longer text. */
export const AGENT_NAME_BODY = '[a-z][a-z0-9_-]{1,31}'

/** An agent's name, whole: 2 to 32 characters, lowercase letters, digits, - or _, starting with a letter. */
export const AGENT_NAME = new RegExp(`^${AGENT_NAME_BODY}$`)

/** The branch a coder task works on. */
export const taskBranch = (taskId: string) => `mechanic/${taskId}`
