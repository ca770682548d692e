import {
  Binary, Bool, type DataType, DateDay, Field, Float16, Float32, Float64, Int16, Int32, Int64, Int8,
  LargeBinary, LargeUtf8, List, Struct, TimeUnit, Timestamp, Uint16, Uint32, Uint64, Uint8, Utf8
} from 'apache-arrow'

/** Deepest list/struct nesting a topic type (or an incoming Arrow schema) may have. */
export const MAX_TYPE_DEPTH = 32

/** Thrown by parseType; `message` names the problem and its position. */
export class TypeParseError extends Error {
  constructor (readonly input: string, readonly position: number, problem: string) {
    super(`${problem} at position ${position} in "${input}"`)
    this.name = 'TypeParseError'
  }
}

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
  binary: () => new Binary(),
  large_binary: () => new LargeBinary(),
  date32: () => new DateDay()
}

const UNITS: Record<string, TimeUnit> = {
  s: TimeUnit.SECOND, ms: TimeUnit.MILLISECOND, us: TimeUnit.MICROSECOND, ns: TimeUnit.NANOSECOND
}
/** pyarrow's unit names, indexed by TimeUnit. */
export const UNIT_NAMES = ['s', 'ms', 'us', 'ns']

/** Small recursive-descent parser over pyarrow's type spelling. */
class Parser {
  pos = 0
  constructor (readonly src: string) {}

  fail (problem: string, at = this.pos): never { throw new TypeParseError(this.src, at, problem) }
  ws () { while (this.src[this.pos] === ' ') this.pos++ }
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

  word (what: string, re = /^[^\s:,<>[\]]+/): string {
    this.ws()
    const m = re.exec(this.src.slice(this.pos))
    if (m === null) this.fail(`expected ${what}`)
    this.pos += m[0].length
    return m[0]
  }

  type (depth: number): DataType {
    if (depth > MAX_TYPE_DEPTH) this.fail(`nesting deeper than ${MAX_TYPE_DEPTH}`)
    const start = this.pos
    const name = this.word('a type name').toLowerCase()
    if (name === 'list') {
      this.eat('<')
      const child = this.field(depth + 1, true)
      this.eat('>')
      return new List(child)
    }
    if (name === 'struct') {
      this.eat('<')
      const children: Field[] = []
      if (!this.try('>')) {
        do children.push(this.field(depth + 1, false)); while (this.try(','))
        this.eat('>')
      }
      const dup = children.find((f, i) => children.findIndex(g => g.name === f.name) !== i)
      if (dup !== undefined) this.fail(`duplicate struct field "${dup.name}"`, start)
      return new Struct(children)
    }
    if (name === 'timestamp') {
      this.eat('[')
      const unit = this.word('a time unit (s, ms, us, ns)')
      if (UNITS[unit] === undefined) this.fail(`unknown time unit "${unit}"`)
      let tz: string | null = null
      if (this.try(',')) {
        this.eat('tz=')
        tz = this.word('a time zone', /^[^\s,\]]+/)
      }
      this.eat(']')
      return new Timestamp(UNITS[unit], tz)
    }
    const make = SIMPLE[name]
    if (make === undefined) this.fail(`unknown type "${name}"`, start)
    if (name === 'date32' && this.try('[')) { this.eat('day'); this.eat(']') }
    return make()
  }

  /** `name: type [not null]`; for lists the name is optional (pyarrow writes `item`). */
  field (depth: number, inList: boolean): Field {
    this.ws()
    const save = this.pos
    let name = 'item'
    const m = /^([^\s:,<>[\]]+)\s*:/.exec(this.src.slice(this.pos))
    if (m !== null) { name = m[1]; this.pos += m[0].length } else if (!inList) this.fail('expected "name: type"')
    if (m === null) this.pos = save
    const type = this.type(depth)
    const notNull = this.try('not null')
    return new Field(name, type, !notNull)
  }
}

/**
 * Parses a pyarrow type name (`int64`, `timestamp[us, tz=UTC]`, `list<item: double>`,
 * `struct<a: int32 not null, b: string>`, aliases `utf8`, `float64`, …) into an Arrow DataType.
 * @throws TypeParseError naming the problem and its position.
 */
export function parseType (s: string): DataType {
  const p = new Parser(s)
  const t = p.type(1)
  p.ws()
  if (p.pos !== s.length) p.fail('unexpected trailing text')
  return t
}
