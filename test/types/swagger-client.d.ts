// swagger-client ships no types; the tests use this much of it.
declare module 'swagger-client' {
  interface ExecuteOptions {
    operationId: string
    parameters?: Record<string, unknown>
    requestBody?: unknown
    requestContentType?: string
    responseContentType?: string
  }
  interface Response { status: number, body: any, text?: string, data?: unknown, headers: Record<string, string> }
  interface Client { execute (opts: ExecuteOptions): Promise<Response> }
  export default function SwaggerClient (opts: { url?: string, spec?: object, authorizations?: Record<string, unknown> }): Promise<Client>
}
