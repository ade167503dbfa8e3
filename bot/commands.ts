import type { CommandSpec } from './command-table.ts'
import { helpText } from './command-table.ts'
import { changeAccess, model, users } from './features/admin.ts'
import { budget } from './features/budget.ts'
import { agent, agents } from './features/agents.ts'
import { cancel, pendingApprovals } from './features/approvals.ts'
import { newConversation } from './features/commands.ts'
import { mcp } from './features/mcp.ts'
import { forget, memory } from './features/memory.ts'
import { every, remind, schedules, timezone } from './features/schedules.ts'
import { status } from './features/status.ts'
import { repo, repos } from './features/repos.ts'
import { code, tasks } from './features/tasks.ts'
import { usage } from './features/usage.ts'
import { startWizard } from './features/wizards.ts'

/**
 * Every command, once: name, what it does, who may run it, and its handler. The menus, /help and
 * the admin gate are derived from this table (see command-table.ts); a command added here is gated
 * by its scope, whatever else changes.
 */
export const COMMANDS: readonly CommandSpec[] = [
  { name: 'start', summary: 'Say hello', scope: 'everyone', hidden: true, handler: (ctx) => ctx.reply(`Hello${ctx.from?.first_name ? `, ${ctx.from.first_name}` : ''}! ${help(ctx.isAdmin, ctx.services.coderEnabled)}`) },
  { name: 'new', summary: 'Start a fresh conversation (I still remember what you asked me to)', scope: 'everyone', handler: newConversation },
  { name: 'agents', summary: 'The agents, and which one this chat talks to', scope: 'everyone', handler: agents },
  { name: 'agent', args: '<name>', summary: 'Talk to another agent in this chat', scope: 'everyone', handler: agent },
  { name: 'newagent', summary: 'Make an agent of your own', scope: 'everyone', handler: startWizard('newagent') },
  { name: 'editagent', args: '<name>', summary: 'Change one of your agents', scope: 'everyone', handler: startWizard('editagent') },
  { name: 'deleteagent', args: '<name>', summary: 'Delete one of your agents', scope: 'everyone', handler: startWizard('deleteagent') },
  { name: 'memory', summary: 'What I remember about you', scope: 'everyone', handler: memory },
  { name: 'forget', args: 'all', summary: 'Forget everything I remember about you', scope: 'everyone', handler: forget },
  { name: 'remind', args: '<when> <text>', summary: 'A reminder: "in 10 minutes stretch", "tomorrow 9:00 check the deploy", "every weekday at 8:30 standup"', scope: 'everyone', handler: remind },
  { name: 'every', args: '<when> <prompt>', summary: 'A recurring job the agent answers: "weekday at 8:30 summarise the repo", "2 hours check the queue"', scope: 'everyone', handler: every },
  { name: 'schedules', args: '[all]', summary: "This chat's reminders and jobs, with Pause and Delete (admins: all)", scope: 'everyone', handler: schedules },
  { name: 'timezone', args: '[zone]', summary: 'Show or set your time zone (Europe/Berlin, UTC, …)', scope: 'everyone', handler: timezone },
  { name: 'usage', summary: 'What you spent today, this month and in 30 days, by agent and model, with a chart (admins: everyone\'s and per task; /usage me for yours)', scope: 'everyone', handler: usage },
  { name: 'cancel', summary: 'Cancel the request waiting for your approval, the running task, or a wizard', scope: 'everyone', handler: cancel },
  { name: 'help', summary: 'What I can do', scope: 'everyone', handler: (ctx) => ctx.reply(help(ctx.isAdmin, ctx.services.coderEnabled)) },
  { name: 'code', args: '[repo:] <what to change>', summary: 'Ask the coder for a change: you approve its plan, aider makes it on a branch, you see the diff and decide; reply to the summary (or /code more <task>: …) to change it further', scope: 'coder', handler: code },
  { name: 'repo', args: '[name|off]', summary: "Show or set the repository this chat's /code requests go to", scope: 'coder', handler: repo },
  { name: 'tasks', summary: 'Recent coding tasks and what they are doing', scope: 'coder', handler: tasks },
  { name: 'status', summary: 'Service health and figures', scope: 'admins', handler: status },
  { name: 'approvals', summary: 'Approvals waiting for a decision, in every chat', scope: 'admins', handler: pendingApprovals },
  { name: 'users', summary: 'People and their access', scope: 'admins', handler: users },
  { name: 'allow', args: '<id>', summary: 'Allow a person by their Telegram id', scope: 'admins', handler: changeAccess('allow') },
  { name: 'deny', args: '<id>', summary: 'Deny a person by their Telegram id', scope: 'admins', handler: changeAccess('deny') },
  { name: 'model', args: '[name]', summary: 'Show or set the default model', scope: 'admins', handler: model },
  { name: 'repos', args: '[add <name> <url> [owner/name] | remove <name> | test <name> <command|off>]', summary: "The coder's repositories: list, add, remove, set a test command", scope: 'coder-admins', handler: repos },
  { name: 'budget', args: '[person <id>|default|agent <name>|task] [day|month] [dollars|off]', summary: 'Spending caps: list, set, clear', scope: 'admins', handler: budget },
  { name: 'mcp', args: '[reload]', summary: 'MCP servers, their state and tools; reload re-reads MCP_CONFIG', scope: 'admins', handler: mcp },
]

const help = (isAdmin: boolean, coderEnabled: boolean) => helpText(COMMANDS, { isAdmin, coderEnabled })
