// Our Telegram HTML, cut into messages Telegram accepts. A small scanner walks tags, entities and
// text once (a cut rewinds at most half a part), counting only what Telegram shows against the limit.
import { decodeEntityAt, htmlToPlain, visibleLength } from './html.ts'

/** Telegram's limit for one message's text. */
export const MESSAGE_LIMIT = 4096

/** The tags open at a point, innermost first (shared tails, so keeping one is free). */
interface Open {
  tag: string // the start tag as written, attributes and all
  name: string
  parent: Open | undefined
}

interface Cut {
  at: number // where the part's HTML ends
  resume: number // where the next part's HTML starts
  open: Open | undefined // tags open at `at`
}

/**
 * Splits our HTML into parts of at most `limit` visible characters (UTF-16 units): at a paragraph
 * break where it can, else a line break, else a space, else anywhere but inside a tag, an entity or
 * a surrogate pair. A tag open at a cut is closed at the end of the part and opened again, with its
 * attributes (a code block's language, a link's href), at the start of the next, so each part is
 * well-formed on its own. Whitespace-only parts are dropped.
 */
export function splitHtml(html: string, limit = MESSAGE_LIMIT): string[] {
  return split(html, limit, Infinity).parts
}

/** The first part, for a draft: with "…" after it when more was cut, still within `limit`. */
export function firstPart(html: string, limit = MESSAGE_LIMIT): string {
  if (visibleLength(html) <= limit) return split(html, limit, 1).parts[0] ?? ''
  const { parts, more } = split(html, limit - 1, 1)
  return (parts[0] ?? '') + (more ? '…' : '')
}

function split(html: string, limit: number, maxParts: number): { parts: string[]; more: boolean } {
  const parts: string[] = []
  let start = 0
  let open: Open | undefined
  while (start < html.length && parts.length < maxParts) {
    const cut = findCut(html, start, open, limit)
    let end = cut?.at ?? html.length
    while (end > start && (html[end - 1] === ' ' || html[end - 1] === '\n')) end--
    const part = opening(open) + html.slice(start, end) + closing(cut?.open)
    if (!blank(part)) parts.push(part)
    if (!cut) return { parts, more: false }
    start = cut.resume
    open = cut.open
  }
  return { parts, more: !blank(html.slice(start)) }
}

/** Telegram makes control characters spaces and trims spaces, so a part of only those would be refused as empty. */
function blank(html: string): boolean {
  const text = htmlToPlain(html)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c > 32 && (c < 0x2028 || c > 0x202e)) return false
  }
  return true
}

/** Where the part starting at `start` must end, or undefined when the rest fits. */
function findCut(html: string, start: number, open: Open | undefined, limit: number): Cut | undefined {
  let visible = 0
  const breaks: Record<'paragraph' | 'line' | 'space', { cut: Cut; visible: number } | undefined> = { paragraph: undefined, line: undefined, space: undefined }
  let fitAt = -1 // where the last unit that fits ends, and the tags open there
  let fitOpen: Open | undefined
  // A cut at a break drops the break; outside code it drops the whitespace after it too.
  const at = (i: number, length: number) => {
    let resume = i + length
    if (!inCode(open)) while (html[resume] === ' ' || html[resume] === '\n') resume++
    return { cut: { at: i, resume, open }, visible }
  }

  for (let i = start; i < html.length; ) {
    const c = html.charCodeAt(i)
    const close = c === 60 /* < */ ? html.indexOf('>', i) : -1
    if (close >= 0) {
      const tag = html.slice(i, close + 1)
      open = tag[1] === '/' ? open?.parent : { tag, name: /^<([\w-]+)/.exec(tag)?.[1] ?? '', parent: open }
      i = close + 1
      continue
    }
    let next = i + 1
    let units = 1
    if (c === 38 /* & */) {
      const entity = decodeEntityAt(html, i)
      if (entity) [next, units] = [entity.end, entity.char.length]
    } else if (c >= 0xd800 && c <= 0xdbff && next < html.length) {
      ;[next, units] = [i + 2, 2]
    }
    if (c === 10 /* \n */) {
      if (html.charCodeAt(i + 1) === 10) breaks.paragraph = at(i, 2)
      breaks.line = at(i, 1)
    } else if (c === 32) {
      breaks.space = at(i, 1)
    }
    if (visible + units > limit) {
      const good = [breaks.paragraph, breaks.line, breaks.space].find((b) => b && b.visible > limit / 2)
      if (good) return good.cut
      return fitAt >= 0 ? { at: fitAt, resume: fitAt, open: fitOpen } : { at: next, resume: next, open } // a unit wider than the limit goes alone
    }
    visible += units
    i = next
    fitAt = i
    fitOpen = open
  }
  return undefined
}

function inCode(open: Open | undefined): boolean {
  for (let o = open; o; o = o.parent) if (o.name === 'pre' || o.name === 'code') return true
  return false
}

function opening(open: Open | undefined): string {
  let out = ''
  for (let o = open; o; o = o.parent) out = o.tag + out
  return out
}

function closing(open: Open | undefined): string {
  let out = ''
  for (let o = open; o; o = o.parent) out += `</${o.name}>`
  return out
}
