/**
 * Files the console's converter must refuse (or fix up) for the `orders` topic, run through the
 * page's own module (`/console/file-table.js`) inside the browser, with what it must say.
 */
import {
  Bool, Dictionary, Field, Int32, Int64, makeData, makeVector, RecordBatch, Schema, Struct, Table, tableToIPC,
  TimestampMicrosecond, TimestampMillisecond, Utf8, vectorFromArray, type Vector
} from 'apache-arrow'
import type { Page } from 'playwright-core'
import { ORDERS_FIELDS } from './upload-files.ts'

export interface ConversionCase { name: string, text?: string, bytes?: number[] }

function arrow (columns: Record<string, Vector>, nullable = true): number[] {
  const fields = Object.entries(columns).map(([name, v]) => new Field(name, v.type, nullable))
  const n = Object.values(columns)[0].length
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children: Object.values(columns).map(v => v.data[0]) }))
  return [...tableToIPC(new Table([batch]), 'stream')]
}

const tsUs = (n: number) => makeVector(makeData({ type: new TimestampMicrosecond('UTC'), length: n, nullCount: 0, data: BigInt64Array.from({ length: n }, (_, i) => 1_714_564_800_000_000n + BigInt(i)) }))

export function conversionCases (): ConversionCase[] {
  const ok = '2024-05-01T00:00:00Z'
  return [
    { name: 'no-ts.csv', text: 'id,name\n1,a\n' },
    { name: 'extra.csv', text: `id,ts,colour\n1,${ok},red\n` },
    { name: 'empty-ts.csv', text: `id,ts\n1,${ok}\n2,\n` },
    { name: 'ragged.csv', text: `id,ts\n1,${ok}\n2\n` },
    { name: 'open-quote.csv', text: `id,name,ts\n1,"never closed,${ok}\n` },
    { name: 'bad-date.csv', text: 'id,ts\n1,2024-02-30T00:00:00Z\n' },
    { name: 'bad-bool.csv', text: `id,ts,ok\n1,${ok},maybe\n` },
    { name: 'int-too-big.csv', text: `id,ts\n9223372036854775808,${ok}\n` },
    { name: 'broken.ndjson', text: `{"id":1,"ts":"${ok}"}\n{"id":2,\n` },
    { name: 'not-object.ndjson', text: '12\n' },
    { name: 'missing-id.ndjson', text: `{"id":1,"ts":"${ok}"}\n{"ts":"${ok}"}\n` },
    { name: 'string-id.json', text: `[{"id":1,"ts":"${ok}","name":"a"},{"id":2,"ts":"${ok}","name":7}]` },
    { name: 'extra.ndjson', text: `{"id":1,"ts":"${ok}","colour":"red"}\n` },
    { name: 'garbage.arrow', bytes: [...Buffer.from('not arrow at all')] },
    { name: 'ms.arrows', bytes: arrow({ id: vectorFromArray([1n, 2n], new Int64()), ts: vectorFromArray([1714564800000, 1714564800001], new TimestampMillisecond('UTC')) }) },
    { name: 'null-id.arrows', bytes: arrow({ id: vectorFromArray([1n, 2n, null], new Int64()), ts: tsUs(3) }) },
    // Convertible: int32 ids widen to int64, a dictionary of names becomes plain strings.
    {
      name: 'int32.arrows',
      bytes: arrow({ id: vectorFromArray([1, 2, 3], new Int32()), ts: tsUs(3), name: vectorFromArray(['a', 'b', 'a'], new Dictionary(new Utf8(), new Int32())), ok: vectorFromArray([true, null, false], new Bool()) })
    }
  ]
}

export const CONVERSION_RESULTS = [
  'no-ts.csv: no column "ts", which the topic says is not null',
  'extra.csv: column colour not in the topic (it has id, name, amount, ts, ok)',
  'empty-ts.csv line 3: field "ts": empty, but the topic says not null',
  'ragged.csv line 3: 1 field, but the header has 2',
  'open-quote.csv line 2: a quoted field is never closed',
  'bad-date.csv line 2: field "ts": expected timestamp[us, tz=UTC], got "2024-02-30T00:00:00Z"',
  'bad-bool.csv line 2: field "ok": expected bool, got "maybe"',
  'int-too-big.csv line 2: field "id": expected int64, got "9223372036854775808"',
  /^broken\.ndjson line 2: not valid JSON \(.+\)$/,
  'not-object.ndjson line 1: expected a JSON object, got 12',
  'missing-id.ndjson line 2: field "id": missing, but the topic says not null',
  'string-id.json row 2: field "name": expected string, got 7',
  'extra.ndjson: field colour not in the topic (it has id, name, amount, ts, ok)',
  /^garbage\.arrow: not a readable Arrow IPC stream or file \(.+\)$/,
  'ms.arrows: column "ts" is timestamp[ms, tz=UTC], the topic wants timestamp[us, tz=UTC]',
  'null-id.arrows row 3: field "id": null, but the topic says not null',
  'converted Arrow, 3 rows: id int64 not null, name string, amount double, ts timestamp[us, tz=UTC] not null, ok bool | ' +
    '[{"id":"1","name":"a","amount":null,"ok":true},{"id":"2","name":"b","amount":null,"ok":null},{"id":"3","name":"a","amount":null,"ok":false}]'
]

/** Runs each case through the page's converter against the orders schema: the error, or a summary of the table. */
export async function convertInPage (page: Page, cases: ConversionCase[]): Promise<string[]> {
  // Imported by a string the page evaluates: an import() inside the function below would be
  // rewritten by the TypeScript transform (a helper the page does not have), and tsc cannot
  // resolve the page's module paths.
  const modules = await page.evaluateHandle("Promise.all([import('/console/file-table.js'), import('/console/types.js')])")
  return page.evaluate(async ({ cases, fields, modules }) => {
    const [{ fileToTable }, { formatType }] = modules as unknown as [{ fileToTable: (f: File, fields: unknown) => Promise<any> }, { formatType: (t: unknown) => string }]
    const out: string[] = []
    for (const c of cases) {
      try {
        const { table, format, inferred } = await fileToTable(new File([c.bytes ? new Uint8Array(c.bytes) : c.text!], c.name), fields)
        const schema = table.schema.fields.map((f: { name: string, type: unknown, nullable: boolean }) => `${f.name} ${formatType(f.type)}${f.nullable ? '' : ' not null'}`)
        const rows = table.toArray().map((r: { toJSON: () => Record<string, unknown> }) => {
          const { ts: _ts, ...rest } = r.toJSON()
          return rest
        })
        out.push(`${inferred ? 'inferred' : 'converted'} ${format}, ${table.numRows} rows: ${schema.join(', ')} | ${JSON.stringify(rows, (_k, v) => typeof v === 'bigint' ? String(v) : v)}`)
      } catch (err) {
        out.push((err as Error).message)
      }
    }
    return out
  }, { cases, fields: ORDERS_FIELDS, modules })
}
