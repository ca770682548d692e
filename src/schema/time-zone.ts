/*
 * Which time zones a `timestamp[unit, tz=…]` column may carry. Arrow allows an IANA name or a
 * fixed offset `±HH:MM`; polars, one of the readers every committed object must serve (CONTRACT
 * §11), cannot open a file whose zone it cannot parse (`unable to parse time zone`). What is
 * accepted here is what both read (checked with nodejs-polars 0.25.2, test/schema/time-zone.test.ts):
 * - an IANA name or alias, as the Intl API (ICU's time zone database) knows it, spelt with its
 *   own capitals: polars looks names up case-sensitively (`america/new_york` fails there);
 * - an offset of whole hours from -12:00 to +14:00, which polars reads as `Etc/GMT∓H`; it refuses
 *   `+05:30`-style offsets (use the zone's name, e.g. Asia/Kolkata).
 * No node: imports: this runs wherever topic schemas are parsed.
 */

const OFFSET = /^[+-](\d{2}):(\d{2})$/
const EXAMPLES = 'such as UTC, Europe/Paris, America/New_York or a whole-hour offset like +05:00'
const checked = new Map<string, string | null>()

function problem (tz: string): string | null {
  const offset = OFFSET.exec(tz)
  if (offset !== null) {
    const hours = Number(offset[1]) * (tz[0] === '-' ? -1 : 1)
    if (offset[2] === '00' && hours >= -12 && hours <= 14) return null
    return `time zone "${tz}" is an offset polars cannot read (only whole hours from -12:00 to +14:00); use the zone's IANA name`
  }
  // Intl parses offsets itself on newer Node versions: anything else offset-like is refused here alike.
  if (tz[0] === '+' || tz[0] === '-') return `time zone "${tz}" is not an offset of the form ±HH:MM`
  let resolved: string
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone
  } catch {
    return `time zone "${tz}" is not an IANA time zone (${EXAMPLES})`
  }
  // Intl matches names whatever their case; IANA names start every part with a capital or a digit.
  if ((tz !== resolved && tz.toLowerCase() === resolved.toLowerCase()) || /(^|\/)[a-z]/.test(tz)) {
    return `time zone "${tz}" is not spelt as the IANA database spells it${tz.toLowerCase() === resolved.toLowerCase() ? ` ("${resolved}")` : ''}; readers match names case-sensitively`
  }
  return null
}

/** Why `tz` cannot be a column's time zone, or null when it can. */
export function timeZoneProblem (tz: string): string | null {
  let p = checked.get(tz)
  if (p === undefined) {
    p = problem(tz)
    if (checked.size >= 1024) checked.clear()
    checked.set(tz, p)
  }
  return p
}
