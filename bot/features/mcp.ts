import type { CommandContext } from 'grammy'
import { McpConfigError } from '../../services/mcp.ts'
import type { McpServerView } from '../../services/mcp.ts'
import type { Context } from '../context.ts'
import { bold, code, html, italic } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'

const STATE_WORDS: Record<McpServerView['state'], string> = { connected: 'connected', connecting: 'connecting', failing: 'failing', stopped: 'stopped' }

const joinHtml = (parts: readonly Html[], separator: string) => parts.flatMap((p, i) => (i ? [html`${separator}`, p] : [p]))

/** One server for /mcp: its state, its tools (those that ask a person first marked), what it could not offer. */
function serverLines(s: McpServerView): Html {
  const state = s.state === 'connected' ? html`${bold('connected')}, ${s.tools.length} tool(s)${s.startupMs !== undefined ? `, started in ${s.startupMs} ms` : ''}` : html`${bold(STATE_WORDS[s.state])}${s.lastError ? html`: ${italic(s.lastError)}` : ''}`
  const tools = s.tools.map((t) => html`${code(t.name)}${t.asks ? ' (asks)' : ''}`)
  return html`• ${bold(s.name)} (${s.transport}): ${state}${tools.length ? html`\n  ${joinHtml(tools, ', ')}` : ''}${s.skipped.length ? html`\n  not offered: ${s.skipped.join('; ')}` : ''}`
}

/** /mcp as Telegram HTML: every server with its state and tools. Pure, for tests. */
export function mcpText(servers: readonly McpServerView[], configured: boolean): Html {
  if (servers.length === 0) return html`No MCP servers${configured ? ' are configured in the MCP_CONFIG file' : ': set MCP_CONFIG to a JSON file with "mcpServers"'}.`
  return html`${bold('MCP servers')} (tools marked "asks" wait for a person's approval)\n\n${joinHtml(servers.map(serverLines), '\n')}`
}

/** /mcp: the servers and their tools; `/mcp reload` reads MCP_CONFIG again without a restart. */
export async function mcp(ctx: CommandContext<Context>): Promise<void> {
  const service = ctx.services.mcp
  if (ctx.match.trim() === 'reload') {
    let changes: { started: string[]; stopped: string[] }
    try {
      changes = await service.reload()
    } catch (err) {
      if (!(err instanceof McpConfigError)) throw err
      await ctx.reply(`The MCP configuration was not reloaded: ${err.message}`)
      return
    }
    ctx.log.info(changes, 'MCP configuration reloaded')
    const said = [changes.started.length ? `started ${changes.started.join(', ')}` : '', changes.stopped.length ? `stopped ${changes.stopped.join(', ')}` : ''].filter(Boolean).join('; ')
    await ctx.reply(`MCP configuration reloaded${said ? `: ${said}` : '; nothing changed'}.`)
  }
  for (const part of splitHtml(mcpText(service.list(), service.configured).html)) await ctx.reply(part, { parse_mode: 'HTML' })
}
