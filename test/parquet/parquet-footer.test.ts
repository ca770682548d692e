import t from 'tap'
import { writeParquet, Table as WasmTable } from 'parquet-wasm'
import { parquetTailRows } from '../../src/parquet/parquet-footer.ts'
import { writerProperties } from '../../src/parquet/writer-props.ts'
import { makeIpc } from './make-ipc.ts'

// The streaming encoder keeps the last bytes of what it wrote and checks num_rows there.
const parquet = (rows: number, groupRows: number) => writeParquet(WasmTable.fromIPCStream(makeIpc(rows)), writerProperties('zstd', groupRows))

t.test('num_rows from the tail of a real Parquet file, however many row groups', async (t) => {
  for (const [rows, groupRows] of [[1, 1024], [10_000, 1024], [100_000, 100_000], [0, 1024]]) {
    const file = parquet(rows, groupRows)
    t.equal(parquetTailRows(file), rows, `${rows} rows in groups of ${groupRows}: whole file`)
    t.equal(parquetTailRows(file.subarray(file.byteLength - 64 * 1024 > 0 ? file.byteLength - 64 * 1024 : 0)), rows, 'from its last 64 KiB only')
  }
})

t.test('a tail that is not a whole footer is refused, not misread', async (t) => {
  const file = parquet(5_000, 1024)
  const len = new DataView(file.buffer, file.byteOffset + file.byteLength - 8, 4).getUint32(0, true)
  t.throws(() => parquetTailRows(file.subarray(file.byteLength - 8 - len + 1)), { message: 'parquet footer: tail too short' })
  t.throws(() => parquetTailRows(file.subarray(0, file.byteLength - 1)), { message: 'not a Parquet file tail' })
  t.throws(() => parquetTailRows(new Uint8Array(4)), { message: 'not a Parquet file tail' })
  const garbled = file.slice()
  garbled.fill(0, garbled.byteLength - 8 - len, garbled.byteLength - 8)
  t.throws(() => parquetTailRows(garbled), { message: 'parquet footer: no num_rows' }, 'a footer of zeros is an empty struct: no num_rows')
})
