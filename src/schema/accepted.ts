import { type DataType, type Decimal, type Duration, type Float, type Int, type Time, type Timestamp, Type } from 'apache-arrow'
import { UNIT_NAMES } from './type-parser.ts'

/** What a producer may send for a topic column of type `t` (the lossless conversions), for 422 messages. */
export function acceptedFor (t: DataType): string {
  switch (t.typeId) {
    case Type.Utf8: case Type.LargeUtf8: case Type.Utf8View: return 'string, large_string, string_view or dictionary<values=string>'
    case Type.Binary: case Type.LargeBinary: case Type.BinaryView: return 'binary, large_binary, binary_view or dictionary<values=binary>'
    case Type.List: case Type.LargeList: return 'list or large_list of an accepted item type'
    case Type.Int: {
      const { bitWidth, isSigned } = t as Int
      const widths = [8, 16, 32, 64].filter((w) => w <= bitWidth)
      const signed = isSigned ? widths.map((w) => `int${w}`) : []
      const unsigned = widths.filter((w) => isSigned ? w < bitWidth : true).map((w) => `uint${w}`)
      return [...signed, ...unsigned].join(', ')
    }
    case Type.Float: return ['halffloat', 'float', 'double'].slice(0, (t as Float).precision + 1).join(', ')
    case Type.Timestamp: {
      const { unit, timezone } = t as Timestamp
      return `timestamp[${UNIT_NAMES.slice(0, unit + 1).join('|')}${timezone ? `, tz=${timezone}` : ''}]`
    }
    case Type.Date: return 'date32[day] or date64[ms]'
    // a coarser unit converts (time32 holds s and ms, time64 us and ns): the hint said "the same type"
    case Type.Time: return UNIT_NAMES.slice(0, (t as Time).unit + 1).map((u, i) => `time${i <= 1 ? 32 : 64}[${u}]`).join(', ')
    case Type.Duration: return `duration[${UNIT_NAMES.slice(0, (t as Duration).unit + 1).join('|')}]`
    case Type.Decimal: {
      const { precision, scale } = t as Decimal
      return `decimal32|64|128|256(p, ${scale}) with p ≤ ${precision}`
    }
    case Type.Struct: return 'a struct with these fields by name, in any order, each of an accepted type; nullable ones may be left out'
    default: return 'the same type'
  }
}
