import type { CommandContext } from 'grammy'
import type { AddProblem, Repositories, RepositoryListing } from '../../services/repositories.ts'
import { NO_CODER } from '../command-table.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'

type Ctx = CommandContext<Context>

const HTML = { parse_mode: 'HTML' } as const
/** A test command longer than this is a script: put it in the repository. */
const MAX_TEST_COMMAND = 500

const REPOS_USAGE = [
  '/repos: the repositories the coder changes.',
  '/repos add <name> <url> [owner/name]: add one (owner/name: its GitHub repository, for pull requests, when the URL is not a github.com one).',
  '/repos remove <name>: remove one.',
  '/repos test <name> <command>: the command run after aider\'s edit ("off": none).',
].join('\n')

/** One repository as /repos lists it, as Telegram HTML. Pure, for tests. */
export function repositoryLine(r: RepositoryListing, chatDefault: string | undefined): Html {
  const marks = [r.configured ? 'configured' : undefined, r.name === chatDefault ? "this chat's default" : undefined].filter(Boolean).join(', ')
  return html`${bold(r.name)}${marks ? ` (${marks})` : ''}: ${code(r.url)}
  tests: ${r.testCommand ? code(r.testCommand) : 'none'} · pull requests: ${r.pullRequests ? code(r.pullRequests) : 'off'}${r.missingToken ? html` · no token: set ${code(r.missingToken)}` : ''}`
}

/** Why /repos add refused, in one sentence. Pure, for tests. */
export function addProblemText(p: AddProblem, name: string): Html {
  switch (p.problem) {
    case 'name':
      return html`A repository's name is 2 to 32 lowercase letters, digits, - or _, starting with a letter.`
    case 'taken':
      return html`There is already a repository called ${code(name)}.`
    case 'url_format':
      return html`That is not a repository address I can use: give an https://, ssh:// or git@host: address, or an absolute path.`
    case 'url_credentials':
      return html`The address holds credentials. Give it without them, and set the host's token in the environment instead (for example ${code('GIT_TOKEN_GITLAB_EXAMPLE_COM')}); tokens never go into the database.`
    case 'github':
      return html`The GitHub repository is written owner/name, for example ${code('acme/widgets')}.`
    case 'auth':
      return html`The remote refused access. ${p.tokenVariable ? html`Set ${code(p.tokenVariable)} in the service's environment and restart it, then add the repository again.` : 'Check its access.'}`
    case 'unreachable':
      return html`The remote did not answer as a git repository; check the address.`
  }
}

function coderRepositories(ctx: Context): Repositories | undefined {
  return ctx.services.repositories
}

/** /repos, /repos add|remove|test: admins manage the coder's repositories. */
export async function repos(ctx: Ctx): Promise<void> {
  const repositories = coderRepositories(ctx)
  if (!repositories) return void (await ctx.reply(NO_CODER))
  const [verb = '', name = '', ...rest] = ctx.match.trim().split(/\s+/)
  const by = ctx.from?.id ?? 0
  if (verb === '') {
    const [list, chosen] = await Promise.all([repositories.list(), repositories.chatDefault(ctx.chat.id)])
    const text = html`Repositories:${list.map((r) => html`\n${repositoryLine(r, chosen)}`)}\n\nA request goes to one with /code name: …, or this chat's default (/repo name).`
    for (const part of splitHtml(text.html)) await ctx.reply(part, HTML)
    return
  }
  if (verb === 'add' && name && rest.length >= 1 && rest.length <= 2) {
    const [url = '', github] = rest
    await ctx.replyWithChatAction('typing').catch(() => undefined)
    const added = await repositories.add({ name, url, githubRepository: github, by })
    if ('problem' in added) return void (await ctx.reply(addProblemText(added, name).html, HTML))
    return void (await ctx.reply(html`Added ${bold(name)} (default branch ${code(added.defaultBranch)}). Ask for a change with ${code(`/code ${name}: …`)}.`.html, HTML))
  }
  if (verb === 'remove' && name && rest.length === 0) {
    const removed = await repositories.remove(name, by)
    if (removed === 'configured') return void (await ctx.reply(html`${code(name)} is the configured repository (GIT_REMOTE_URL); it cannot be removed from here.`.html, HTML))
    if (removed === 'unknown') return void (await ctx.reply(html`There is no added repository called ${code(name)}.`.html, HTML))
    if (removed !== 'removed') return void (await ctx.reply(html`${code(name)} has ${removed.unfinished} unfinished task(s). Let them end, or cancel or discard them, then remove it.`.html, HTML))
    return void (await ctx.reply(html`Removed ${bold(name)} and its clone.`.html, HTML))
  }
  // The command as written, its quoting and spacing kept: only the verb and the name are split off.
  const test = /^test\s+(\S+)\s+([\s\S]+)$/.exec(ctx.match.trim())
  if (verb === 'test' && test) {
    const command = test[2]!.trim()
    if (command.length > MAX_TEST_COMMAND) return void (await ctx.reply(`A test command is at most ${MAX_TEST_COMMAND} characters; put a longer one in a script in the repository.`))
    const off = command === 'off'
    if ((await repositories.setTestCommand(test[1]!, off ? null : command, by)) === 'unknown') return void (await ctx.reply(html`There is no repository called ${code(name)}.`.html, HTML))
    return void (await ctx.reply(off ? html`${bold(name)}: no test command from now on.`.html : html`${bold(name)}: ${code(command)} runs after each of aider's edits from now on.`.html, HTML))
  }
  await ctx.reply(REPOS_USAGE)
}

/** /repo [name|off]: the repository this chat's /code goes to when a request names none. */
export async function repo(ctx: Ctx): Promise<void> {
  const repositories = coderRepositories(ctx)
  if (!repositories) return void (await ctx.reply(NO_CODER))
  const name = ctx.match.trim()
  const names = await repositories.names()
  if (!name) {
    const chosen = await repositories.chatDefault(ctx.chat.id, names)
    const which = chosen ? html`This chat's requests go to ${bold(chosen)}.` : names.length > 1 ? html`This chat has no default repository: I ask which one when a request does not say.` : html`Requests go to ${bold(names[0] ?? '?')}, the only repository.`
    return void (await ctx.reply(html`${which}\nRepositories: ${names.map((n, i) => html`${i ? ', ' : ''}${code(n)}`)}. Set one with /repo name, or /repo off.`.html, HTML))
  }
  // In a group the default is everyone's: an admin sets it.
  if (ctx.chat.type !== 'private' && !ctx.isAdmin) return void (await ctx.reply("In a group, only an admin sets the chat's default repository; name one in your request instead: /code name: …"))
  const off = name === 'off'
  if ((await repositories.setChatDefault(ctx.chat.id, off ? null : name, ctx.from?.id ?? 0)) === 'unknown') {
    return void (await ctx.reply(html`There is no repository called ${code(name)}. There are: ${names.map((n, i) => html`${i ? ', ' : ''}${code(n)}`)}.`.html, HTML))
  }
  await ctx.reply(off ? 'This chat has no default repository now.' : html`This chat's requests go to ${bold(name)} from now on, unless one says /code other: ….`.html, off ? {} : HTML)
}
