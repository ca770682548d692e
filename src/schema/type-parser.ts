import {
  Binary, BinaryView, Bool, type DataType, DateDay, DateMillisecond, Decimal, Dictionary, Duration, Field,
  FixedSizeBinary, FixedSizeList, Float16, Float32, Float64, Int16, Int32, Int64, Int8, LargeBinary, LargeList,
  LargeUtf8, List, Map_, Struct, Time, TimeUnit, Type, Timestamp, Uint16, Uint32, Uint64, Uint8, Utf8, Utf8View
} from 'apache-arrow'
import { schemaLimits, tooManyFields } from './limits.ts'

/** Deepest list/struct nesting a topic type (or an incoming Arrow schema) may have. */
export const MAX_TYPE_DEPTH = 32

/** Thrown by parseType; `message` names the problem and its position. */
export class TypeParseError extends Error {
  constructor (readonly input: string, readonly position: number, problem: string) {
    // a 1 MB type string must not become a 1 MB message
    super(`${problem} at position ${position} in "${input.length > 200 ? `${input.slice(0, 200)}…` : input}"`)
    this.name = 'TypeParseError'
  }
}

/** How many more fields (at every depth) the schema being parsed may have; shared by all its fields. */
export interface FieldBudget { left: number }
export const fieldBudget = (): FieldBudget => ({ left: schemaLimits.maxFields })

const SIMPLE: Record<string, () => DataType> = {
  bool: () => new Bool(),
  boolean: () => new Bool(),
  int8: () => new Int8(),
  int16: () => new Int16(),
  int32: () => new Int32(),
  int64: () => new Int64(),
  uint8: () => new Uint8(),
  uint16: () => new Uint16(),
  uint32: () => new Uint32(),
  uint64: () => new Uint64(),
  halffloat: () => new Float16(),
  float16: () => new Float16(),
  float: () => new Float32(),
  float32: () => new Float32(),
  double: () => new Float64(),
  float64: () => new Float64(),
  string: () => new Utf8(),
  utf8: () => new Utf8(),
  large_string: () => new LargeUtf8(),
  large_utf8: () => new LargeUtf8(),
  string_view: () => new Utf8View(),
  utf8_view: () => new Utf8View(),
  binary: () => new Binary(),
  large_binary: () => new LargeBinary(),
  binary_view: () => new BinaryView(),
  date32: () => new DateDay(),
  date64: () => new DateMillisecond()
}

const UNITS: Record<string, TimeUnit> = {
  s: TimeUnit.SECOND, ms: TimeUnit.MILLISECOND, us: TimeUnit.MICROSECOND, ns: TimeUnit.NANOSECOND
}
/** pyarrow's unit names, indexed by TimeUnit. */
export const UNIT_NAMES = ['s', 'ms', 'us', 'ns']

const WORD = /[^\s:,<>[\]()=]+/y
// characters that end a field name: whitespace : , < > [ ]
const NAME_END = new Set([32, 9, 10, 13, 58, 44, 60, 62, 91, 93])
const INT = /\d{1,9}/y

/**
 * Small recursive-descent parser over pyarrow's type spelling. Every step reads at the cursor
 * with sticky regexes (never a slice of the rest), so parsing is linear in the input's length.
 */
class Parser {
  pos = 0
  constructor (readonly src: string, readonly budget: FieldBudget) {}

  fail (problem: string, at = this.pos): never { throw new TypeParseError(this.src, at, problem) }
  ws () { while (this.src.charCodeAt(this.pos) === 32) this.pos++ }
  eat (s: string) {
    this.ws()
    if (!this.src.startsWith(s, this.pos)) this.fail(`expected "${s}"`)
    this.pos += s.length
  }

  try (s: string) {
    this.ws()
    if (!this.src.startsWith(s, this.pos)) return false
    this.pos += s.length
    return true
  }

  match (re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.pos
    const m = re.exec(this.src)
    if (m !== null) this.pos = re.lastIndex
    return m
  }

  word (what: string, re = WORD): string {
    this.ws()
    const m = this.match(re)
    if (m === null) this.fail(`expected ${what}`)
    return m[0]
  }

  int (what: string, min: number, max: number): number {
    this.ws()
    const at = this.pos
    const m = this.match(INT)
    if (m === null) this.fail(`expected ${what}`)
    const n = Number(m[0])
    if (n < min || n > max) this.fail(`${what} must be between ${min} and ${max}, got ${n}`, at)
    return n
  }

  unit (allowed: string[]): TimeUnit {
    this.eat('[')
    const at = this.pos
    const u = this.word(`a time unit (${allowed.join(', ')})`)
    if (!allowed.includes(u)) this.fail(`unknown time unit "${u}" (expected ${allowed.join(', ')})`, at)
    this.eat(']')
    return UNITS[u]
  }

  type (depth: number): DataType {
    if (depth > MAX_TYPE_DEPTH) this.fail(`nesting deeper than ${MAX_TYPE_DEPTH}`)
    this.ws()
    const start = this.pos
    const name = this.word('a type name').toLowerCase()
    switch (name) {
      case 'list': case 'large_list': case 'fixed_size_list': {
        this.eat('<')
        const child = this.field(depth + 1, true)
        this.eat('>')
        if (name === 'list') return new List(child)
        if (name === 'large_list') return new LargeList(child)
        this.eat('[')
        const size = this.int('a list size', 1, 1 << 20)
        this.eat(']')
        return new FixedSizeList(size, child)
      }
      case 'struct': return this.struct(depth, start)
      case 'map': {
        this.eat('<')
        const key = this.type(depth + 1)
        this.eat(',')
        const value = this.type(depth + 1)
        const valueNullable = !this.try('not null')
        this.eat('>')
        this.count(3)
        const entries = new Field('entries', new Struct([new Field('key', key, false), new Field('value', value, valueNullable)]), false)
        return new Map_(entries, false)
      }
      case 'dictionary': {
        this.eat('<'); this.eat('values=')
        const values = this.type(depth + 1)
        this.eat(','); this.eat('indices=')
        const at = this.pos
        const indices = this.type(depth + 1)
        if (indices.typeId !== Type.Int) this.fail('dictionary indices must be an integer type', at)
        let ordered = false
        if (this.try(',')) { this.eat('ordered='); ordered = this.word('0 or 1') === '1' }
        this.eat('>')
        return new Dictionary(values, indices as Int32, null, ordered)
      }
      case 'timestamp': {
        this.eat('[')
        const at = this.pos
        const unit = this.word('a time unit (s, ms, us, ns)')
        if (UNITS[unit] === undefined) this.fail(`unknown time unit "${unit}"`, at)
        let tz: string | null = null
        if (this.try(',')) {
          this.eat('tz=')
          tz = this.word('a time zone', /[^\s,\]]+/y)
        }
        this.eat(']')
        return new Timestamp(UNITS[unit], tz)
      }
      case 'time32': return new Time(this.unit(['s', 'ms']), 32)
      case 'time64': return new Time(this.unit(['us', 'ns']), 64)
      case 'duration': return new Duration(this.unit(['s', 'ms', 'us', 'ns']))
      case 'decimal32': case 'decimal64': case 'decimal128': case 'decimal256': case 'decimal': {
        const bits = name === 'decimal' ? 128 : Number(name.slice(7))
        const maxP = { 32: 9, 64: 18, 128: 38, 256: 76 }[bits]!
        this.eat('(')
        const p = this.int('a precision', 1, maxP)
        this.eat(',')
        const s = this.int('a scale', 0, maxP)
        this.eat(')')
        if (s > p) this.fail(`scale ${s} is larger than precision ${p}`, start)
        return new Decimal(s, p, bits)
      }
      case 'fixed_size_binary': {
        this.eat('[')
        const n = this.int('a byte width', 1, 1 << 20)
        this.eat(']')
        return new FixedSizeBinary(n)
      }
    }
    const make = SIMPLE[name]
    if (make === undefined) this.fail(`unknown type "${name}"`, start)
    if (name === 'date32' && this.try('[')) { this.eat('day'); this.eat(']') }
    if (name === 'date64' && this.try('[')) { this.eat('ms'); this.eat(']') }
    return make()
  }

  struct (depth: number, start: number): Struct {
    this.eat('<')
    const children: Field[] = []
    if (!this.try('>')) {
      const seen = new Set<string>()
      do {
        const f = this.field(depth + 1, false)
        if (seen.has(f.name)) this.fail(`duplicate struct field "${f.name}"`, start)
        seen.add(f.name)
        children.push(f)
      } while (this.try(','))
      this.eat('>')
    }
    return new Struct(children)
  }

  count (n: number) {
    this.budget.left -= n
    if (this.budget.left < 0) this.fail(tooManyFields(0, false))
  }

  /** `name:` at the cursor (consumed), or null (cursor unchanged). A plain scan: this runs once per field. */
  name (): string | null {
    const src = this.src
    let end = this.pos
    while (end < src.length && !NAME_END.has(src.charCodeAt(end))) end++
    if (end === this.pos) return null
    let colon = end
    while (src.charCodeAt(colon) === 32) colon++
    if (src.charCodeAt(colon) !== 58) return null
    const name = src.slice(this.pos, end)
    this.pos = colon + 1
    return name
  }

  /** `name: type [not null]`; for lists the name is optional (pyarrow writes `item`). */
  field (depth: number, inList: boolean): Field {
    this.count(1)
    this.ws()
    let name = 'item'
    const m = this.name()
    if (m !== null) name = m
    else if (inList && this.src.charCodeAt(this.pos) === 58) { // flechette: `list<: int32>`
      this.pos++
      name = ''
    } else if (!inList) this.fail('expected "name: type"')
    const type = this.type(depth)
    const notNull = this.try('not null')
    return new Field(name, type, !notNull)
  }
}

/**
 * Parses a pyarrow type name (`int64`, `timestamp[us, tz=UTC]`, `list<item: double>`,
 * `decimal128(10, 2)`, `map<string, int32>`, `struct<a: int32 not null, b: string>`, aliases
 * `utf8`, `float64`, …) into an Arrow DataType. `budget` counts nested fields across one schema.
 * @throws TypeParseError naming the problem and its position.
 */
export function parseType (s: string, budget: FieldBudget = fieldBudget()): DataType {
  if (s.length > schemaLimits.maxTypeLength) {
    throw new TypeParseError(s, 0, `type is ${s.length} characters long, at most ${schemaLimits.maxTypeLength} (MAX_TYPE_LENGTH)`)
  }
  const p = new Parser(s, budget)
  const t = p.type(1)
  p.ws()
  if (p.pos !== s.length) p.fail('unexpected trailing text')
  return t
}
