/** An instant as admins read it in the bot's messages: "2026-12-01 08:30 UTC". */
export const utcMinute = (d: Date): string => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
