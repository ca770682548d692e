// Runs s3rver in its own process (it needs NODE_OPTIONS=--openssl-legacy-provider for
// ListObjectsV2 paging) and prints the port it listens on as one JSON line.
const S3rver = require('s3rver')
const [directory, bucket] = process.argv.slice(2)
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
server.run().then((addr) => {
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\n')
}, (err) => {
  process.stderr.write(String(err && err.stack) + '\n')
  process.exit(1)
})
process.on('SIGTERM', () => { server.close().finally(() => process.exit(0)) })
