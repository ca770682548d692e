import { extname } from 'node:path'
import { readArrow } from './arrow.ts'
import { readCsv } from './csv.ts'
import { readJson } from './json.ts'
import { readNdjson } from './ndjson.ts'
import { readParquet } from './parquet.ts'
import type { SourceReader } from './types.ts'

export type Format = 'csv' | 'ndjson' | 'json' | 'parquet' | 'arrow'
export const FORMATS: Format[] = ['csv', 'ndjson', 'json', 'parquet', 'arrow']

export const READERS: Record<Format, SourceReader> = {
  csv: readCsv,
  ndjson: readNdjson,
  json: readJson,
  parquet: readParquet,
  arrow: readArrow
}

const EXTENSIONS: Record<string, Format> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.json': 'json',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.arrow': 'arrow',
  '.arrows': 'arrow',
  '.feather': 'arrow',
  '.ipc': 'arrow'
}

export function detectFormat (path: string): Format {
  const format = EXTENSIONS[extname(path).toLowerCase()]
  if (!format) throw new Error(`cannot tell the format of ${path} from its extension; pass --format ${FORMATS.join('|')}`)
  return format
}
