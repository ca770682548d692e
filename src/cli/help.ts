export const HELP = `quiver: stream files into a Quiver gateway

Usage:
  quiver send <file> --topic <name> [options]   send a CSV, NDJSON, JSON, Parquet or Arrow file
  quiver tail <topic> [--limit n]               print rows accepted from now on, as NDJSON
  quiver token [--role admin|write|read]        mint the local provider's tokens from DATA_DIR
  quiver sample [--rows n] > events.arrows      write sample rows of the README's events topic (Arrow IPC stream)
  quiver --help | --version

Common options:
  --url <url>          gateway base URL (default $QUIVER_URL or http://127.0.0.1:3000)
  --token <jwt>        bearer token (default $QUIVER_TOKEN)

send options:
  --topic, -t <name>   target topic (required)
  --format <f>         csv | ndjson | json | parquet | arrow (default: from the extension)
  --transport <t>      http (one POST per batch, ?ack=durable) | ws (one WebSocket, pipelined) (default http)
  --batch-rows <n>     rows per batch; one batch is one request or message (default 50000)
  --inflight <n>       unacknowledged batches allowed at once (default 4)
  --retries <n>        attempts per batch after the first, with backoff (default 8)
  --create-topic       create the topic from the file's schema when it does not exist (admin token)
  --resume <file>      state file: acknowledged batches are recorded there; rerunning the same
                       command with the same file skips them and sends the rest
  --no-keys            send batches without idempotency keys (at-least-once: a rerun may store
                       a batch twice)
  --json               print the summary as JSON on stdout
  --quiet, -q          no progress output

tail options:
  --limit <n>          exit after n rows

sample options:
  --rows <n>           rows to write (default 1000)
  --first-id <n>       id of the first row (default 1)

token options:
  --data-dir <dir>     the gateway's DATA_DIR (default $DATA_DIR or ./data)
  --ttl <seconds>      token lifetime (default 86400)
  --role <role>        print only that role's token
  Each token is recorded in the gateway's storage (S3_BUCKET when set, else DATA_DIR; settings from
  the environment, then .env) so DELETE /v1/admin/tokens/{jti} can revoke it.

Delivery: a batch counts as sent only when the gateway acknowledged it as durable (its rows are
in a committed Parquet object). Unacknowledged batches are retried. Every batch carries an
idempotency key made of the file's identity (path, size, mtime), --format, --batch-rows and the
batch number, so a batch the gateway stored but whose acknowledgement was lost is not stored
again when resent: the gateway replays its acknowledgement. After an interruption, rerun with
--resume to send only what was not acknowledged (or rerun without it: acknowledged batches are
replayed, not stored twice). Exactly once holds while the gateway remembers keys
(IDEMPOTENCY_TTL_S, default 24 h) and the file is unchanged.
`
