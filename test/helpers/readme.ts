import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The README's runnable parts, as the README tests read them. Conventions (kept in the raw
 * Markdown, invisible on GitHub):
 * - a fenced block's info string is its language plus tags: ```` ```sh banner ```` and so on;
 *   the test file says what each tag means to it (blocks without tags run as they are);
 * - a comment line `# → text` right after a command is what that command prints, one line of
 *   output per `# → ` line; `…` stands for any text (ids, sizes, times).
 */
export const README = fileURLToPath(new URL('../../README.md', import.meta.url))

export interface Block { tags: string[], code: string, line: number }
export interface Step { commands: string, expected: string[] }

/** The text under `heading` (e.g. '## 5-minute walkthrough') up to the next heading of its level or above. */
export function section (markdown: string, heading: string): string {
  const lines = markdown.split('\n')
  const start = lines.indexOf(heading)
  if (start < 0) throw new Error(`README has no heading ${JSON.stringify(heading)}`)
  const level = heading.indexOf(' ')
  let end = start + 1
  let fenced = false
  for (; end < lines.length; end++) {
    if (lines[end].startsWith('```')) fenced = !fenced
    const m = /^(#+) /.exec(lines[end])
    if (!fenced && m && m[1].length <= level) break
  }
  return lines.slice(start, end).join('\n')
}

/** Every fenced block of `text` whose language is in `languages`, with its tags and first line number. */
export function blocks (text: string, languages = ['sh', 'bash']): Block[] {
  const out: Block[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S+)(.*)$/.exec(lines[i])
    if (!open) continue
    const end = lines.indexOf('```', i + 1)
    if (end < 0) throw new Error(`unclosed fence at line ${i + 1}`)
    if (languages.includes(open[1])) out.push({ tags: open[2].trim().split(/\s+/).filter(Boolean), code: lines.slice(i + 1, end).join('\n'), line: i + 1 })
    i = end
  }
  return out
}

const RESULT = /^# → ?(.*)$/

/** A block's commands cut after each command that shows its result; a last step may show none. */
export function steps (code: string): Step[] {
  const out: Step[] = []
  let commands: string[] = []
  let expected: string[] = []
  const flush = (): void => {
    if (commands.some((c) => c.trim() !== '' && !c.trim().startsWith('#')) || expected.length > 0) out.push({ commands: commands.join('\n'), expected })
    commands = []
    expected = []
  }
  for (const line of code.split('\n')) {
    const result = RESULT.exec(line)
    if (result) {
      expected.push(result[1])
      continue
    }
    if (expected.length > 0) flush()
    commands.push(line)
  }
  flush()
  return out
}

/** `expected` as one anchored pattern: `…` is any text on the line, everything else literal. */
export function resultPattern (expected: string[]): RegExp {
  const lines = expected.map((l) => l.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^\\n]*'))
  return new RegExp(`^${lines.join('\\n')}$`)
}

export function readReadme (): string {
  return readFileSync(README, 'utf8')
}
