// A model's Markdown, shown in Telegram: marked's lexer reads the Markdown (CommonMark and GFM, and
// forgiving of the half-written text a streamed reply is), and this module walks its tokens to the
// small HTML Telegram accepts. Every tag is opened and closed by the same call, so the output is
// well-formed whatever the input.
import { Lexer } from 'marked'
import type { MarkedToken, Token, Tokens } from 'marked'
import { escapeHtml, link, pre, raw } from './html.ts'

/** Where a token is rendered: inside a block quote (quotes do not nest) or a link (links hold no code or links). */
interface Scope {
  inQuote: boolean
  inLink: boolean
  depth: number // list nesting
}

const TOP: Scope = { inQuote: false, inLink: false, depth: 0 }
const RULE = '———'

/** Telegram HTML for a model's Markdown reply; half-written Markdown renders too, never throws. */
export function renderMarkdown(md: string): string {
  return blocks(new Lexer({ gfm: true }).lex(md), TOP, '\n\n').trim()
}

/** Telegram HTML for text that is not Markdown: escaped, nothing else. */
export const renderPlainAsHtml = (text: string): string => escapeHtml(text)

function blocks(tokens: readonly Token[], scope: Scope, separator: string): string {
  return tokens
    .map((t) => block(t, scope))
    .filter((s) => s.trim() !== '')
    .join(separator)
}

function block(token: Token, scope: Scope): string {
  const t = token as MarkedToken
  switch (t.type) {
    case 'paragraph':
      return inline(t.tokens, scope)
    case 'text':
      return t.tokens ? inline(t.tokens, scope) : text(t)
    case 'heading':
      return wrap('b', inline(t.tokens, scope))
    case 'code':
      return t.text === '' ? '' : pre(t.text.replace(/\n+$/, ''), t.lang?.split(/\s/)[0]).html
    case 'blockquote': {
      const body = blocks(t.tokens, { ...scope, inQuote: true }, '\n\n')
      return scope.inQuote ? body : wrap('blockquote', body)
    }
    case 'list':
      return list(t, scope)
    case 'table':
      return table(t)
    case 'hr':
      return RULE
    case 'html':
      return escapeHtml(t.text.trim())
    case 'space':
    case 'def':
    case 'checkbox':
      return ''
    default:
      return 'tokens' in t && Array.isArray(t.tokens) ? inline(t.tokens, scope) : escapeHtml(token.raw)
  }
}

/**
 * A list item per line: "• " or "1. " (a checkbox for a task), nested lists two spaces further in;
 * an item's further lines are indented with it, except code, whose spaces are its own.
 */
function list(token: Tokens.List, scope: Scope): string {
  const indent = '  '.repeat(scope.depth)
  const start = typeof token.start === 'number' ? token.start : 1
  const inner = { ...scope, depth: scope.depth + 1 }
  return token.items
    .map((item, i) => {
      const box = item.task ? (item.checked ? '☑ ' : '☐ ') : ''
      const marker = token.ordered ? `${start + i}. ${box}` : box || '• '
      const body = item.tokens
        .map((t) => ({ html: block(t, inner), ownIndent: t.type === 'list' }))
        .filter((b) => b.html.trim() !== '')
        .map((b, k) => {
          if (b.ownIndent) return b.html
          const html = b.html.includes('<pre') ? b.html : b.html.replace(/\n/g, `\n${indent}  `)
          return k === 0 ? html : `${indent}  ${html}`
        })
      return indent + marker + body.join('\n')
    })
    .join('\n')
}

/** A table as monospace text in a <pre>, each column padded to its widest cell. */
function table(token: Tokens.Table): string {
  const rows = [token.header, ...token.rows].map((row) => row.map((cell) => plain(cell.tokens)))
  const widths = token.header.map((_, c) => Math.max(1, ...rows.map((row) => width(row[c] ?? ''))))
  const pad = (s: string, c: number) => {
    const room = widths[c]! - width(s)
    const align = token.align[c]
    if (align === 'right') return ' '.repeat(room) + s
    if (align === 'center') return ' '.repeat(room >> 1) + s + ' '.repeat(room - (room >> 1))
    return s + ' '.repeat(room)
  }
  const line = (row: string[]) => widths.map((_, c) => pad(row[c] ?? '', c)).join(' | ').trimEnd()
  const [header, ...body] = rows
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-')
  return `<pre>${escapeHtml([line(header!), rule, ...body.map(line)].join('\n'))}</pre>`
}

const width = (s: string) => [...s].length

function inline(tokens: readonly Token[] | undefined, scope: Scope): string {
  let out = ''
  for (const token of tokens ?? []) out += span(token, scope)
  return out
}

function span(token: Token, scope: Scope): string {
  const t = token as MarkedToken
  switch (t.type) {
    case 'text':
      return t.tokens ? inline(t.tokens, scope) : text(t)
    case 'escape':
      return escapeHtml(t.text)
    case 'strong':
      return wrap('b', inline(t.tokens, scope))
    case 'em':
      return wrap('i', inline(t.tokens, scope))
    case 'del':
      return wrap('s', inline(t.tokens, scope))
    case 'codespan':
      // A link keeps its text plain: Telegram would keep the code and drop the link.
      return scope.inLink ? escapeHtml(t.text) : wrap('code', escapeHtml(t.text))
    case 'br':
      return '\n'
    case 'link': {
      const href = t.autolink ? t.href : decodeEntities(t.href)
      const label = t.autolink ? escapeHtml(t.text) : inline(t.tokens, { ...scope, inLink: true })
      if (scope.inLink) return label
      return link(raw(label.trim() === '' ? escapeHtml(href) : label), href).html
    }
    case 'image': {
      const alt = plain(t.tokens) || 'image'
      return scope.inLink ? escapeHtml(alt) : link(alt, decodeEntities(t.href)).html
    }
    case 'html':
      return escapeHtml(t.text)
    case 'checkbox':
    case 'def':
      return ''
    default:
      return 'tokens' in t && Array.isArray(t.tokens) ? inline(t.tokens, scope) : escapeHtml(token.raw)
  }
}

/** A tag around `body`, or nothing when there is nothing to wrap (an empty entity is noise). */
const wrap = (tag: string, body: string) => (body.trim() === '' ? body : `<${tag}>${body}</${tag}>`)

function text(t: Tokens.Text): string {
  return escapeHtml(t.escaped ? t.text : decodeEntities(t.text))
}

/** The text of inline tokens with no formatting (for table cells and image descriptions). */
function plain(tokens: readonly Token[] | undefined): string {
  let out = ''
  for (const token of tokens ?? []) {
    const t = token as MarkedToken
    if (t.type === 'text') out += t.tokens ? plain(t.tokens) : t.escaped ? t.text : decodeEntities(t.text)
    else if (t.type === 'codespan' || t.type === 'escape' || t.type === 'html') out += t.text
    else if (t.type === 'link' && t.autolink) out += t.text
    else if (t.type === 'br') out += ' '
    else if ('tokens' in t && Array.isArray(t.tokens)) out += plain(t.tokens)
  }
  return out
}

// marked leaves named character references in its text (its HTML renderer lets the browser decode
// them) and has already decoded numeric ones, escaping a bare `&` as `&amp;` where it did. So named
// references are decoded here, once, left to right: `&amp;lt;` is the text "&lt;". A name not in
// this list (CommonMark knows about 2,000) stays as it was written, which is what a reader expects.
const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', trade: '™',
  hellip: '…', mdash: '—', ndash: '–', laquo: '«', raquo: '»', ldquo: '“', rdquo: '”', lsquo: '‘',
  rsquo: '’', bull: '•', middot: '·', times: '×', divide: '÷', deg: '°', plusmn: '±', le: '≤', ge: '≥',
  ne: '≠', larr: '←', rarr: '→', uarr: '↑', darr: '↓', harr: '↔', euro: '€', pound: '£', yen: '¥',
  cent: '¢', sect: '§', para: '¶', shy: '\u00ad', zwj: '\u200d', zwnj: '\u200c', check: '✓', infin: '∞',
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g, (ref, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED[name] ?? ref
    const code = dec !== undefined ? Number(dec) : parseInt(hex!, 16)
    return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\ufffd' : String.fromCodePoint(code)
  })
}
