import pl from 'nodejs-polars'
import * as fl from '@uwdata/flechette'
import {
  BinaryView, type DataType, DateMillisecond, Decimal, DurationMillisecond, FixedSizeBinary, makeData, makeVector, type Vector, LargeBinary, Table, tableToIPC,
  TimeNanosecond, TimestampMicrosecond, Utf8View, vectorFromArray
} from 'apache-arrow'

/*
 * Frames written by the real producer libraries, each with every declared type it can write
 * and a null in every column (row 1), for test/e2e/producers.test.ts. The values are chosen so
 * that a unit, scale or sign mistake shows: sub-second digits, negative decimals and durations.
 */

/** nodejs-polars 0.25.2 `writeIPCStream`: large_string, large_list, time64[ns], decimal128, duration, dictionary<uint32, large_string>. */
export function polarsFrame (): Uint8Array {
  const df = pl.DataFrame({
    id: pl.Series('id', [1, null, 3], pl.Int64),
    i8: pl.Series('i8', [-128, null, 127], pl.Int8),
    u16: pl.Series('u16', [0, null, 65535], pl.UInt16),
    f32: pl.Series('f32', [1.5, null, -0.25], pl.Float32),
    ok: pl.Series('ok', [true, null, false], pl.Bool),
    name: pl.Series('name', ['ä', null, 'a string longer than twelve bytes'], pl.Utf8),
    cat: pl.Series('cat', ['red', null, 'blue'], pl.Utf8).cast(pl.Categorical),
    lst: pl.Series('lst', [[1.5, 2], null, []], pl.List(pl.Float64)),
    arr: pl.Series('arr', [[1, 2, 3], null, [4, 5, 6]], pl.FixedSizeList(pl.Int32, 3)),
    dec: pl.Series('dec', ['12.34', null, '-0.01'], pl.Utf8).cast(pl.Decimal(10, 2)),
    tm: pl.Series('tm', [3_723_000_001_000, null, 0], pl.Int64).cast(pl.Time),
    dur: pl.Series('dur', [1500, null, -3], pl.Int64).cast(pl.Duration('ms')),
    day: pl.Series('day', [19844, null, -1], pl.Int32).cast(pl.Date),
    at_ms: pl.Series('at_ms', [1_714_564_800_123, null, 0], pl.Int64).cast(pl.Datetime('ms', 'UTC')),
    at_hel: pl.Series('at_hel', [1_714_564_800_123_456, null, 1], pl.Int64).cast(pl.Datetime('us', 'Europe/Helsinki')),
    st: pl.DataFrame({ a: pl.Series('a', [1, null, 3], pl.Int16), b: pl.Series('b', ['x', null, 'z'], pl.Utf8) }).toStruct('st')
  })
  return df.writeIPCStream()
}

/** Polars into an existing topic with wider/plain types: Int32 id, large_string, large_list, timestamp[ms]. */
export function polarsNarrowFrame (): Uint8Array {
  return pl.DataFrame({
    id: pl.Series('id', [7, 8], pl.Int32),
    name: pl.Series('name', ['x', null], pl.Utf8),
    tags: pl.Series('tags', [['a', 'b'], null], pl.List(pl.Utf8)),
    at: pl.Series('at', [1_714_564_800_123, null], pl.Int64).cast(pl.Datetime('ms'))
  }).writeIPCStream()
}

/** @uwdata/flechette 2.6.0: list with an unnamed child, decimal, fixed-size list (its child null count disagrees with the bitmap), map, dictionary. */
export function flechetteFrame (): Uint8Array {
  const table = fl.tableFromArrays({
    l: [[1, 2], null, []],
    d: [12.34, null, -0.01],
    fsl: [[1, 2, 3], null, [4.5, 5, 6]],
    m: [new Map([['a', 1], ['b', null]]), null, new Map()],
    dict: ['x', null, 'x'],
    ts: [new Date('2024-05-01T12:00:00.123Z'), null, new Date(0)],
    big: [2n ** 62n, null, -1n],
    d64: [-123456789.25, null, 0.5]
  }, {
    types: {
      l: fl.list(fl.int32()),
      d: fl.decimal(12, 2),
      fsl: fl.fixedSizeList(fl.float32(), 3),
      m: fl.map(fl.utf8(), fl.int32()),
      dict: fl.dictionary(fl.utf8()),
      ts: fl.timestamp(fl.TimeUnit.MILLISECOND, 'UTC'),
      big: fl.int64(),
      d64: fl.decimal64(15, 2)
    }
  })
  return fl.tableToIPC(table, { format: 'stream' })!
}

/** apache-arrow 21.2.0 `tableToIPC`: fixed_size_binary, time64, date64, duration, views, large_binary, decimal256. */
export function arrowFrame (): Uint8Array {
  const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)
  const d256 = new Decimal(3, 20, 256)
  const decWords = new Uint32Array(3 * 8)
  decWords.set([123456, 0, 0, 0, 0, 0, 0, 0], 0) // 123.456
  decWords.set([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 16) // -0.001
  return tableToIPC(new Table({
    fsb: vectorFromArray([bytes(16, 1), null, bytes(16, 255)], new FixedSizeBinary(16)),
    tm: int64s(new TimeNanosecond(), [3_723_000_001_000n, null, 0n]),
    d64: vectorFromArray([new Date('2024-05-01T00:00:00Z'), null, new Date('1969-12-31T00:00:00Z')], new DateMillisecond()),
    du: int64s(new DurationMillisecond(), [1500n, null, -3n]),
    sv: vectorFromArray(['short', null, 'a string longer than twelve bytes'], new Utf8View()),
    bv: vectorFromArray([bytes(2, 7), null, bytes(20, 9)], new BinaryView()),
    lb: vectorFromArray([bytes(1, 0), null, bytes(0, 0)], new LargeBinary()),
    at: int64s(new TimestampMicrosecond('Europe/Helsinki'), [1_714_564_800_123_456n, null, -1n]),
    dec: makeVector(makeData({ type: d256, length: 3, nullCount: 1, nullBitmap: Uint8Array.of(0b101), data: decWords }))
  }), 'stream')
}

/** A column of 64-bit values (time64, duration, timestamp) with nulls, from raw values: no builder unit conversion in the way. */
function int64s (type: DataType, values: Array<bigint | null>): Vector {
  const nullBitmap = new Uint8Array(1)
  values.forEach((v, i) => { if (v !== null) nullBitmap[0] |= 1 << i })
  const data = BigInt64Array.from(values, (v) => v ?? 0n)
  return makeVector(makeData({ type, length: values.length, nullCount: values.filter((v) => v === null).length, nullBitmap, data } as Parameters<typeof makeData>[0]))
}
