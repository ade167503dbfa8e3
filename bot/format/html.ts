// Telegram HTML (parse_mode HTML) built safely: text is escaped the way Telegram decodes it, and a
// value that is already HTML carries the `Html` type, so nothing is escaped twice or not at all.

/** A piece of Telegram HTML that is safe to send: its text is escaped and its tags are balanced. */
export class Html {
  readonly html: string

  constructor(html: string) {
    this.html = html
  }

  toString(): string {
    return this.html
  }
}

/** What a template or helper accepts: text (escaped), HTML (kept), or lists of them (joined). */
export type HtmlPart = string | number | Html | readonly HtmlPart[]

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }

/** Escapes the four characters Telegram's HTML parser knows entities for: & < > and ". */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ESCAPES[c]!)
}

function toHtml(part: HtmlPart): string {
  if (part instanceof Html) return part.html
  if (typeof part === 'string') return escapeHtml(part)
  if (typeof part === 'number') return String(part)
  return part.map(toHtml).join('')
}

/** A tagged template: every interpolated value is escaped unless it is already `Html`. */
export function html(strings: TemplateStringsArray, ...values: HtmlPart[]): Html {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += toHtml(values[i]!) + strings[i + 1]!
  return new Html(out)
}

/** HTML written by hand, trusted as it is (its author escapes and balances it). */
export const raw = (htmlString: string): Html => new Html(htmlString)

export const bold = (x: HtmlPart): Html => new Html(`<b>${toHtml(x)}</b>`)
export const italic = (x: HtmlPart): Html => new Html(`<i>${toHtml(x)}</i>`)
export const strike = (x: HtmlPart): Html => new Html(`<s>${toHtml(x)}</s>`)

/** Inline code; code takes text only, because Telegram drops any formatting inside it. */
export const code = (x: string): Html => new Html(`<code>${escapeHtml(x)}</code>`)

/** A code-block language Telegram can carry in `class="language-…"`; others are left out. */
export const CODE_LANGUAGE = /^[\w+#.-]{1,32}$/

/** A code block, with its language when it is a plain name like `ts` or `c++`. */
export function pre(x: string, lang?: string): Html {
  const body = escapeHtml(x)
  return new Html(lang && CODE_LANGUAGE.test(lang) ? `<pre><code class="language-${lang}">${body}</code></pre>` : `<pre>${body}</pre>`)
}

/**
 * A link for http, https and tg URLs; anything else is shown as its text. A mailto link is shown as
 * its text too (with the address after it when the text does not contain it): Telegram turns
 * `mailto:a@b.c` into the odd web link `http://mailto:a@b.c/`, while it links a bare address itself.
 */
export function link(text: HtmlPart, url: string): Html {
  if (/^(?:https?|tg):/i.test(url)) return new Html(`<a href="${escapeHtml(url)}">${toHtml(text)}</a>`)
  const mail = /^mailto:(.+)$/i.exec(url)?.[1]
  if (mail && !htmlToPlain(toHtml(text)).includes(mail)) return html`${text} (${mail})`
  return new Html(toHtml(text))
}

/** A block quote; a quote inside it is flattened, because Telegram drops nested block quotes. */
export function quote(x: HtmlPart): Html {
  return new Html(`<blockquote>${toHtml(x).replace(/<\/?blockquote(?: expandable)?>/g, '')}</blockquote>`)
}

/**
 * The character an entity at `html[i]` (an `&`) stands for, decoded as Telegram does: only
 * &lt; &gt; &amp; &quot; and numeric references, the `;` optional; anything else is not an entity.
 */
export function decodeEntityAt(html: string, i: number): { char: string; end: number } | undefined {
  const m = /^&(?:#x([0-9a-fA-F]+)|#(\d+)|([a-zA-Z]+))/.exec(html.slice(i, i + 12))
  if (!m) return undefined
  let char: string
  if (m[3] !== undefined) {
    const named = NAMED[m[3]]
    if (named === undefined) return undefined
    char = named
  } else {
    if (m[0].length >= 10) return undefined
    const code = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10)
    if (code === 0 || code >= 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined
    char = String.fromCodePoint(code)
  }
  const end = i + m[0].length
  return { char, end: html[end] === ';' ? end + 1 : end }
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' }

/** The text Telegram shows for our HTML: tags removed, entities decoded (the plain-text fallback). */
export function htmlToPlain(html: string): string {
  let out = ''
  let from = 0
  for (let i = 0; i < html.length; i++) {
    const c = html[i]
    if (c === '<') {
      const end = html.indexOf('>', i)
      if (end < 0) continue // not a tag: Telegram would refuse it, the plain text keeps it
      out += html.slice(from, i)
      i = end
      from = end + 1
    } else if (c === '&') {
      const entity = decodeEntityAt(html, i)
      if (!entity) continue
      out += html.slice(from, i) + entity.char
      i = entity.end - 1
      from = entity.end
    }
  }
  return out + html.slice(from)
}

/** The length Telegram's 4096 limit is checked against, in UTF-16 code units (an upper bound: Telegram counts code points). */
export const visibleLength = (html: string): number => htmlToPlain(html).length
