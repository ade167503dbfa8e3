// Telegram's parse_mode HTML, emulated so the Telegram emulator refuses what Telegram refuses and
// shows what Telegram shows. Ported from the code that does it, not from the docs:
//   tdlib/td td/telegram/MessageEntity.cpp (HEAD 022d602, July 2026): decode_html_entity, parse_html,
//     fix_entities (are_entities_valid, remove_intersecting_entities, split_entities) and the trim in
//     fix_formatted_text; its tests in test/message_entities.cpp are the cases in our test;
//   tdlib/telegram-bot-api telegram-bot-api/Client.cpp (HEAD 01a3679): the error wording, "Bad Request: "
//     plus TDLib's message with its first letter lowered, and TDLib's "Can't parse entities: " prefix.
// Verified there: tag names are case-insensitive, attribute names are not; only &lt; &gt; &amp; &quot;
// and numeric references are entities, the ";" is optional, and anything else after "&" (&nbsp;, a bare
// &) stays as text; "<" that does not start a supported tag is an error; </> closes the innermost tag;
// nested block quotes, formatting inside code and a link around code are NOT refused: Telegram drops
// the entity that cannot be kept, silently (`strict` makes those an error for our own tests).
// Assumed, not ported: links are checked by a simplified LinkManager::check_link (http/https hosts
// with a dot, tg:/ton: hosts) and tg://user?id= links become text_mention without a user lookup; the
// right-to-left mark rewrite and auto-detected entities (urls, mentions, hashtags) are left out.

/** A formatting entity as the Bot API reports it: offsets and lengths in UTF-16 code units. */
export interface TelegramEntity {
  type: string
  offset: number
  length: number
  url?: string
  language?: string
  custom_emoji_id?: string
  user_id?: number
  unix_time?: number
  date_time_format?: string
}

/** The visible text and its entities, or the error description Telegram answers with. */
export type ParsedTelegramHtml = { text: string; entities: TelegramEntity[] } | { error: string }

/** `strict`: also refuse markup Telegram accepts but silently drops part of (see the file comment). */
export interface ParseOptions {
  strict?: boolean
}

const PREFIX = "Bad Request: can't parse entities: "
const TAGS = new Set(['a', 'b', 'strong', 'i', 'em', 's', 'strike', 'del', 'u', 'ins', 'tg-spoiler', 'tg-emoji', 'tg-time', 'span', 'pre', 'code', 'blockquote'])
const SPLITTABLE = ['Bold', 'Italic', 'Underline', 'Strikethrough', 'Spoiler'] as const
const PRIORITY: Record<string, number> = {
  Bold: 90, Italic: 91, Code: 20, Pre: 11, PreCode: 10, TextUrl: 49, MentionName: 49, Underline: 92,
  Strikethrough: 93, BlockQuote: 0, Spoiler: 94, CustomEmoji: 99, ExpandableBlockQuote: 0, FormattedDate: 30,
}
const BOT_API_TYPE: Record<string, string> = {
  Bold: 'bold', Italic: 'italic', Underline: 'underline', Strikethrough: 'strikethrough', Spoiler: 'spoiler',
  Code: 'code', Pre: 'pre', PreCode: 'pre', TextUrl: 'text_link', MentionName: 'text_mention', CustomEmoji: 'custom_emoji',
  BlockQuote: 'blockquote', ExpandableBlockQuote: 'expandable_blockquote', FormattedDate: 'date_time',
}
const CONTINUOUS = new Set(['TextUrl', 'MentionName', 'CustomEmoji'])

/** An entity in TDLib's terms (kind is TDLib's type name). */
interface Entity {
  kind: string
  offset: number
  length: number
  argument?: string
  userId?: number
  unix?: number
}

const end = (e: Entity) => e.offset + e.length
const isSplittable = (kind: string) => (SPLITTABLE as readonly string[]).includes(kind)
const isBlockquote = (kind: string) => kind === 'BlockQuote' || kind === 'ExpandableBlockQuote'
const isPre = (kind: string) => kind === 'Pre' || kind === 'Code' || kind === 'PreCode' || kind === 'FormattedDate'
const byPosition = (a: Entity, b: Entity) => a.offset - b.offset || b.length - a.length || PRIORITY[a.kind]! - PRIORITY[b.kind]!

// td's character classes, on UTF-16 code units (identical to its bytes for the ASCII it looks for);
// 0 stands for the end of the text, as the C string's terminator does there.
const isSpace = (c: number) => c === 32 || c === 9 || c === 13 || c === 10 || c === 0 || c === 11
const isDigit = (c: number) => c >= 48 && c <= 57
const isAlpha = (c: number) => ((c | 0x20) >= 97 && (c | 0x20) <= 122) && c < 128
const isHex = (c: number) => isDigit(c) || ((c | 0x20) >= 97 && (c | 0x20) <= 102)
const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase())

/** TDLib's decode_html_entity: the code point of the entity at `s[i]` and where it ends, or none. */
function decodeEntity(s: string, i: number): { code: number; next: number } | undefined {
  const at = (k: number) => (k < s.length ? s.charCodeAt(k) : 0)
  let j = i + 1
  let code = 0
  if (at(j) === 35 /* # */) {
    j++
    if (at(j) === 120 /* x */) {
      j++
      while (isHex(at(j))) code = code * 16 + parseInt(s[j++]!, 16)
    } else {
      while (isDigit(at(j))) code = code * 10 + at(j++) - 48
    }
    if (code === 0 || code >= 0x10ffff || j - i >= 10) return undefined
  } else {
    while (isAlpha(at(j))) j++
    code = { lt: 60, gt: 62, amp: 38, quot: 34 }[s.slice(i + 1, j)] ?? 0
    if (code === 0) return undefined
  }
  return { code, next: at(j) === 59 /* ; */ ? j + 1 : j }
}

/**
 * Parses `text` the way the Bot API does for parse_mode HTML: the text a reader sees (after Telegram's
 * trim) and its entities, or the error Telegram answers with ("Bad Request: can't parse entities: …").
 */
export function parseTelegramHtml(text: string, options: ParseOptions = {}): ParsedTelegramHtml {
  if (text === '') return { error: 'Bad Request: message text is empty' }
  if (Buffer.byteLength(text) > 1 << 15) return { error: 'Bad Request: text is too long' }
  const at = (k: number) => (k < text.length ? text.charCodeAt(k) : 0)
  const byteOffset = (k: number) => Buffer.byteLength(text.slice(0, k))
  const fail = (message: string): ParsedTelegramHtml => ({ error: PREFIX + message })

  let out = ''
  let surrogate = false
  let strictError: string | undefined
  const entities: Entity[] = []
  const open: Array<{ tag: string; argument: string; unix: number; offset: number }> = []

  // What TDLib's clean_input_string_with_entities does after parsing, done while writing: "\r" and
  // some invisible marks are dropped, other control characters become spaces.
  const write = (unit: number) => {
    if (unit === 13 || (unit >= 0x2028 && unit <= 0x202e) || unit === 0x333 || unit === 0x33f || unit === 0x30a) return
    out += unit < 32 && unit !== 10 ? ' ' : String.fromCharCode(unit)
  }

  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 38 /* & */) {
      const entity = decodeEntity(text, i)
      if (entity) {
        if (entity.code >= 0xd800 && entity.code <= 0xdfff) surrogate = true
        if (entity.code > 0xffff) out += String.fromCodePoint(entity.code)
        else write(entity.code)
        i = entity.next - 1
        continue
      }
    }
    if (c !== 60 /* < */) {
      write(c)
      continue
    }

    const begin = i++
    if (at(i) !== 47 /* / */) {
      while (!isSpace(at(i)) && at(i) !== 62) i++
      if (at(i) === 0) return fail(`Unclosed start tag at byte offset ${byteOffset(begin)}`)
      const tag = lower(text.slice(begin + 1, i))
      if (!TAGS.has(tag)) return fail(`Unsupported start tag "${tag}" at byte offset ${byteOffset(begin)}`)

      let argument = ''
      let unix = 0
      while (at(i) !== 62 /* > */) {
        while (at(i) !== 0 && isSpace(at(i))) i++
        if (at(i) === 62) break
        const nameBegin = i
        while (!isSpace(at(i)) && ![61, 62, 47, 34, 39].includes(at(i))) i++ // = > / " '
        const name = text.slice(nameBegin, i)
        if (name === '') return fail(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(begin)}`)
        while (at(i) !== 0 && isSpace(at(i))) i++
        if (at(i) !== 61 /* = */) {
          if (at(i) === 0) return fail(`Unclosed start tag "${tag}" at byte offset ${byteOffset(begin)}`)
          if (tag === 'blockquote' && name === 'expandable') argument = '1'
          continue
        }
        i++
        while (at(i) !== 0 && isSpace(at(i))) i++
        if (at(i) === 0) return fail(`Unclosed start tag "${tag}" at byte offset ${byteOffset(begin)}`)

        let value = ''
        if (at(i) !== 39 && at(i) !== 34) {
          // A name token: letters, digits, periods and hyphens, not case-sensitive.
          const tokenBegin = i
          while (isAlpha(at(i)) || isDigit(at(i)) || at(i) === 46 || at(i) === 45) i++
          value = lower(text.slice(tokenBegin, i))
          if (!isSpace(at(i)) && at(i) !== 62) return fail(`Unexpected end of name token at byte offset ${byteOffset(tokenBegin)}`)
        } else {
          const quote = at(i++)
          while (at(i) !== quote && at(i) !== 0) {
            const entity = at(i) === 38 ? decodeEntity(text, i) : undefined
            if (entity) {
              value += String.fromCodePoint(entity.code)
              i = entity.next
            } else {
              value += text[i++]
            }
          }
          if (at(i) === quote) i++
        }
        if (at(i) === 0) return fail(`Unclosed start tag at byte offset ${byteOffset(begin)}`)

        if (tag === 'a' && name === 'href') argument = value
        else if (tag === 'code' && name === 'class' && value.startsWith('language-')) argument = value.slice(9)
        else if (tag === 'span' && name === 'class' && value.startsWith('tg-')) argument = value.slice(3)
        else if (tag === 'tg-emoji' && name === 'emoji-id') argument = value
        else if (tag === 'blockquote' && name === 'expandable') argument = '1'
        else if (tag === 'tg-time' && name === 'unix') unix = toInt32(value)
        else if (tag === 'tg-time' && name === 'format') argument = value
      }
      if (tag === 'span' && argument !== 'spoiler') return fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(begin)}`)
      if (options.strict) strictError ??= strictViolation(tag, open, byteOffset(begin))
      open.push({ tag, argument, unix, offset: out.length })
      continue
    }

    // An end tag.
    if (open.length === 0) return fail(`Unexpected end tag at byte offset ${byteOffset(begin)}`)
    while (!isSpace(at(i)) && at(i) !== 62) i++
    const endTag = lower(text.slice(begin + 2, i))
    while (isSpace(at(i)) && at(i) !== 0) i++
    if (at(i) !== 62) return fail(`Unclosed end tag at byte offset ${byteOffset(begin)}`)
    const top = open.pop()!
    if (endTag !== '' && endTag !== top.tag) {
      return fail(`Unmatched end tag at byte offset ${byteOffset(begin)}, expected "</${top.tag}>", found "</${endTag}>"`)
    }
    if (out.length > top.offset) {
      const failure = addEntity(entities, top, out)
      if (failure) return fail(failure)
    }
  }
  if (open.length > 0) return fail(`Can't find end tag corresponding to start tag "${open.at(-1)!.tag}"`)
  if (surrogate) return fail('Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units')
  if (strictError) return { error: strictError }

  for (const e of entities) if (e.kind === 'Code') delete e.argument
  const trimmed = trim(out, fixEntities(entities))
  if (trimmed.text === '') return { error: 'Bad Request: text must be non-empty' }
  return { text: trimmed.text, entities: trimmed.entities.map(toBotApi) }
}

/** The entity a closed tag makes, as parse_html makes it; a message when the tag is refused. */
function addEntity(entities: Entity[], top: { tag: string; argument: string; unix: number; offset: number }, out: string): string | undefined {
  const offset = top.offset
  const length = out.length - offset
  const push = (kind: string, extra: Partial<Entity> = {}) => entities.push({ kind, offset, length, ...extra })
  const last = entities.at(-1)
  const sameRange = last !== undefined && last.offset === offset && last.length === length
  switch (top.tag) {
    case 'i': case 'em': push('Italic'); break
    case 'b': case 'strong': push('Bold'); break
    case 's': case 'strike': case 'del': push('Strikethrough'); break
    case 'u': case 'ins': push('Underline'); break
    case 'tg-spoiler': case 'span': push('Spoiler'); break
    case 'tg-emoji':
      if (!/^-?\d+$/.test(top.argument) || BigInt(top.argument) === 0n || BigInt.asIntN(64, BigInt(top.argument)) !== BigInt(top.argument)) {
        return 'Invalid custom emoji identifier specified'
      }
      push('CustomEmoji', { argument: top.argument })
      break
    case 'tg-time':
      if (!/^(?:[rR]|[tTdDwW]*)$/.test(top.argument)) return 'Invalid date format used'
      if (top.unix > 0) push('FormattedDate', { unix: top.unix, argument: top.argument })
      break
    case 'a': {
      const url = top.argument || out.slice(offset)
      const userId = /^tg:(?:\/\/)?user\/?\?(?:[^#]*&)?id=(\d+)/i.exec(url)?.[1]
      if (userId !== undefined && Number(userId) > 0) push('MentionName', { userId: Number(userId) })
      else {
        const checked = checkedLink(url)
        if (checked) push('TextUrl', { argument: checked })
      }
      break
    }
    case 'pre':
      if (sameRange && last.kind === 'Code' && last.argument) last.kind = 'PreCode'
      else push('Pre')
      break
    case 'code':
      if (sameRange && last.kind === 'Pre' && top.argument) Object.assign(last, { kind: 'PreCode', argument: top.argument })
      else push('Code', { argument: top.argument })
      break
    case 'blockquote': push(top.argument ? 'ExpandableBlockQuote' : 'BlockQuote'); break
  }
  return undefined
}

/** In strict mode: why Telegram would keep only part of a tag opened inside `open`, if it would. */
function strictViolation(tag: string, open: ReadonlyArray<{ tag: string }>, at: number): string | undefined {
  const inside = (tags: string[]) => open.find((o) => tags.includes(o.tag))?.tag
  const why = (parent: string) => `strict: <${tag}> inside <${parent}> at byte offset ${at}: Telegram would silently drop one of them`
  // <pre><code class="language-…"> is how a code block names its language, not code inside code.
  const languageOfPre = tag === 'code' && open.length > 0 && open.at(-1)!.tag === 'pre' && open.filter((o) => o.tag === 'pre' || o.tag === 'code').length === 1
  const code = inside(['code', 'pre', 'tg-time'])
  if (code && !languageOfPre) return why(code)
  const continuous = inside(['a', 'tg-emoji'])
  if (continuous && ['a', 'tg-emoji', 'tg-time', 'code', 'pre', 'blockquote'].includes(tag)) return why(continuous)
  if (tag === 'blockquote' && inside(['blockquote'])) return why('blockquote')
  return undefined
}

/** TDLib's fix_entities: keeps what can be kept of overlapping entities. */
function fixEntities(entities: Entity[]): Entity[] {
  entities.sort(byPosition)
  if (areValid(entities)) return entities
  const splittable = entities.filter((e) => isSplittable(e.kind))
  const quotes = removeIntersecting(entities.filter((e) => isBlockquote(e.kind)))
  let others = removeIntersecting(entities.filter((e) => !isSplittable(e.kind) && !isBlockquote(e.kind)))
  if (quotes.length > 0) others = [...removeCrossingQuotes(others, quotes), ...quotes].sort(byPosition)
  if (splittable.length === 0) return others
  return [...splitAround(splittable, others), ...others].sort(byPosition)
}

function areValid(entities: readonly Entity[]): boolean {
  const lastEnd = new Map<string, number>()
  const stack: Entity[] = []
  const kinds = new Set<string>()
  for (const e of entities) {
    while (stack.length > 0 && e.offset >= end(stack.at(-1)!)) kinds.delete(stack.pop()!.kind)
    const parent = stack.at(-1)
    if (parent) {
      const has = (test: (kind: string) => boolean) => [...kinds].some(test)
      if (end(e) > end(parent) || kinds.has(e.kind) || isPre(parent.kind)) return false
      if (isPre(e.kind) && has((k) => !isBlockquote(k))) return false
      if ((CONTINUOUS.has(e.kind) || isBlockquote(e.kind)) && has((k) => CONTINUOUS.has(k))) return false
      if (isBlockquote(e.kind) && has(isBlockquote)) return false
      if (has(isSplittable)) return false
    }
    if (isSplittable(e.kind)) {
      if ((lastEnd.get(e.kind) ?? -1) >= e.offset) return false
      lastEnd.set(e.kind, end(e))
    }
    stack.push(e)
    kinds.add(e.kind)
  }
  return true
}

function removeIntersecting(sorted: readonly Entity[]): Entity[] {
  let lastEnd = 0
  return sorted.filter((e) => e.offset >= lastEnd && ((lastEnd = end(e)), true))
}

function removeCrossingQuotes(entities: readonly Entity[], quotes: readonly Entity[]): Entity[] {
  let q = 0
  return entities.filter((e) => {
    while (q < quotes.length && end(quotes[q]!) <= e.offset) q++
    const quote = quotes[q]
    return !(quote && (end(quote) < end(e) || (e.offset < quote.offset && quote.offset < end(e))))
  })
}

/** TDLib's split_entities: bold, italic… merged per kind, cut at other entities' edges, removed inside code. */
function splitAround(splittable: readonly Entity[], others: readonly Entity[]): Entity[] {
  const begin = new Map<string, number>()
  const until = new Map<string, number>()
  const result: Entity[] = []
  let next = 0
  const flush = (offset: number) => {
    for (const kind of SPLITTABLE) {
      const from = begin.get(kind) ?? 0
      const to = until.get(kind) ?? 0
      if (to === 0 || from >= offset) continue
      if (to <= offset) {
        result.push({ kind, offset: from, length: to - from })
        begin.set(kind, 0)
        until.set(kind, 0)
      } else {
        result.push({ kind, offset: from, length: offset - from })
        begin.set(kind, offset)
      }
    }
  }
  const addUntil = (offset: number) => {
    for (; next < splittable.length && splittable[next]!.offset < offset; next++) {
      const e = splittable[next]!
      const to = until.get(e.kind) ?? 0
      if (to !== 0 && e.offset <= to) until.set(e.kind, Math.max(to, end(e)))
      else {
        flush(e.offset)
        begin.set(e.kind, e.offset)
        until.set(e.kind, end(e))
      }
    }
    flush(offset)
  }
  const stack: Entity[] = []
  const advance = (offset: number) => {
    while (stack.length > 0 && offset >= end(stack.at(-1)!)) {
      const done = stack.pop()!
      const kept = result.length
      addUntil(end(done))
      if (isPre(done.kind)) result.length = kept
    }
    addUntil(offset)
  }
  for (const other of others) {
    advance(other.offset)
    stack.push(other)
  }
  advance(Number.MAX_SAFE_INTEGER)
  return result
}

/** fix_formatted_text's trim: spaces and newlines off the end, and off the start up to the first entity. */
function trim(text: string, entities: Entity[]): { text: string; entities: Entity[] } {
  const last = text.search(/[^ \n][ \n]*$/)
  if (last < 0) return { text: '', entities: [] }
  const keep = last + 1
  const kept = entities.filter((e) => e.offset < keep).map((e) => ({ ...e, length: Math.min(e.length, keep - e.offset) }))
  const firstEntity = kept.length > 0 ? kept[0]!.offset : keep
  let start = 0
  while (start < firstEntity && (text[start] === ' ' || text[start] === '\n')) start++
  return { text: text.slice(start, keep), entities: kept.map((e) => ({ ...e, offset: e.offset - start })).sort(byPosition) }
}

function toBotApi(e: Entity): TelegramEntity {
  const entity: TelegramEntity = { type: BOT_API_TYPE[e.kind]!, offset: e.offset, length: e.length }
  if (e.kind === 'TextUrl') entity.url = e.argument!
  if (e.kind === 'PreCode') entity.language = e.argument!
  if (e.kind === 'CustomEmoji') entity.custom_emoji_id = e.argument!
  if (e.kind === 'MentionName') entity.user_id = e.userId!
  if (e.kind === 'FormattedDate') Object.assign(entity, { unix_time: e.unix!, date_time_format: e.argument ?? '' })
  return entity
}

function toInt32(s: string): number {
  const m = /^-?\d+/.exec(s)
  return m ? Number(BigInt.asIntN(32, BigInt(m[0]))) : 0
}

/** A simplified LinkManager::get_checked_link: the URL Telegram links to, or none (the text stays plain). */
function checkedLink(link: string): string | undefined {
  const scheme = /^(tg|ton|tonsite):/i.exec(link)?.[1]?.toLowerCase()
  let rest = scheme ? link.slice(scheme.length + 1) : link
  if (scheme && rest.startsWith('//')) rest = rest.slice(2)
  const url = parseUrl(rest)
  if (!url) return undefined
  if (scheme) {
    if (/^http:\/\//i.test(rest) || url.protocol === 'https' || url.userinfo || url.port || url.ipv6) return undefined
    const hostChars = scheme === 'tonsite' ? /^[A-Za-z0-9_.-]+$/ : /^[A-Za-z0-9_-]+$/
    if (!hostChars.test(url.host)) return undefined
    return `${scheme}://${url.host}${url.query.startsWith('/?') ? url.query.slice(1) : url.query}`
  }
  if (!url.host.includes('.') && !url.ipv6) return undefined
  return `${url.protocol}://${url.userinfo ? `${url.userinfo}@` : ''}${url.host}${url.port ? `:${url.port}` : ''}${url.query}`
}

/** tdutils' parse_url: [http(s)://][userinfo@]host[:port][rest]. */
function parseUrl(url: string) {
  const schemeName = /^[^:/?#@[\]]*/.exec(url)![0]
  let protocol = 'http'
  let rest = url
  if (url.startsWith('://', schemeName.length)) {
    protocol = lower(schemeName)
    if (protocol !== 'http' && protocol !== 'https') return undefined
    rest = url.slice(schemeName.length + 3)
  }
  const hostPort = /^[^/?#]*/.exec(rest)![0]
  let colon = hostPort.length - 1
  while (colon > 0 && !':]@'.includes(hostPort[colon]!)) colon--
  let port = 0
  let userinfoHost = hostPort
  if (colon > 0 && hostPort[colon] === ':') {
    const digits = hostPort.slice(colon + 1).replace(/^0+(?=.)/, '')
    port = /^\d{1,9}$/.test(digits) && Number(digits) !== 0 ? Number(digits) : -1
    userinfoHost = hostPort.slice(0, colon)
  }
  if (port < 0 || port > 65535) return undefined
  const atSign = userinfoHost.lastIndexOf('@')
  const userinfo = atSign < 0 ? '' : userinfoHost.slice(0, atSign)
  const host = lower(userinfoHost.slice(atSign + 1))
  const ipv6 = host.startsWith('[') && host.endsWith(']')
  if (host === '' || host === '.') return undefined
  if (ipv6 ? !/^\[[0-9a-f:.]+\]$/.test(host) : !validPart(host, false) || !validPart(userinfo, true)) return undefined
  let query = rest.slice(hostPort.length).replace(/[\t\n\v\r ]+$/, '') || '/'
  if (!query.startsWith('/')) query = `/${query}`
  query = [...query].map((c) => (c.charCodeAt(0) <= 0x20 ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : c)).join('')
  return { protocol, userinfo, host, port, ipv6, query }
}

/** RFC 3986 characters tdutils allows in a host (and, with ":", in userinfo), plus any non-ASCII. */
const validPart = (part: string, colon: boolean) => (colon ? /^(?:[\w.\-!$,~*'();&+=:\u0080-\uffff]|%[0-9a-fA-F]{2})*$/ : /^(?:[\w.\-!$,~*'();&+=\u0080-\uffff]|%[0-9a-fA-F]{2})*$/).test(part)
