/** The shape of the generated client module (test/fixtures/generated/client.ts), for the test's typing. */
export declare function quiver (baseUrl: string, token: string): {
  createTopic (name: string, fields: Array<{ name: string, type: string, nullable: boolean }>): Promise<{ status: number, body: { name: string, schema: { fields: unknown[] }, createdAt: string }, error: unknown }>
  ingestJson (topic: string, rows: Array<Record<string, unknown>>): Promise<{ status: number, body: unknown }>
  flush (): Promise<{ status: number, body: { flushed: number | undefined } }>
  files (topic: string): Promise<{ status: number, body: { files: Array<{ key: string, bytes: number, rows: number, createdAt: string }> } }>
  topic (topic: string): Promise<{ status: number, body: { name: string, stats: { rows: number, bytes: number, files: number, lastFlushAt: string | null } } }>
}
