// Runs s3rver in its own process (it needs NODE_OPTIONS=--openssl-legacy-provider for
// ListObjectsV2 paging) and prints the port it listens on as one JSON line.
const crypto = require('node:crypto')
const fs = require('node:fs')
const fsp = require('node:fs/promises')
const path = require('node:path')
const { Transform } = require('node:stream')
const { pipeline } = require('node:stream/promises')
// s3rver 3.7 lists a bucket by readdirSync then statSync of each entry: a file removed in between
// (a claim deleted by a concurrent create, a temp file renamed by the putObject below) makes the
// whole ListObjects answer 500. S3 lists consistently under concurrent writes, so the walk here
// skips entries that vanished. Patched before s3rver loads: its filesystem store binds `walk` then.
const s3rverUtils = require('s3rver/lib/utils')
s3rverUtils.walk = function * walk (dir, recurseFilter) {
  let names
  try { names = fs.readdirSync(dir) } catch (err) { if (err.code === 'ENOENT') return; throw err }
  for (const filename of names) {
    const filePath = path.posix.join(dir, filename)
    let stats
    try { stats = fs.statSync(filePath) } catch (err) { if (err.code === 'ENOENT') continue; throw err }
    if (!stats.isDirectory()) yield filePath
    else if (!recurseFilter || recurseFilter(filePath)) yield * walk(filePath, recurseFilter)
  }
}
const S3rver = require('s3rver')
const FilesystemStore = require('s3rver/lib/stores/filesystem')

// S3 makes an object visible whole or not at all. s3rver 3.7 writes the object file in place
// and lists/serves it as soon as the file exists (its size from stat, metadata optional): a PUT
// still being written, or cut off by a client that died mid-body (the crash test SIGKILLs the
// gateway mid-upload), showed up as an empty or torn object, for readers and for the next
// gateway alike. Here an object is written to a temp file (not listed: it
// lacks s3rver's suffix), its metadata next, and only then renamed into place; a body that fails
// or is aborted leaves nothing.
FilesystemStore.prototype.putObject = async function putObject (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object')
  await fsp.mkdir(path.dirname(objectPath), { recursive: true })
  const tmp = `${objectPath}.${crypto.randomBytes(8).toString('hex')}.tmp`
  const md5Context = crypto.createHash('md5')
  let size = 0
  try {
    if (Buffer.isBuffer(object.content)) {
      md5Context.update(object.content)
      size = object.content.length
      await fsp.writeFile(tmp, object.content)
    } else {
      const count = new Transform({
        transform (chunk, encoding, callback) {
          md5Context.update(chunk, encoding)
          size += chunk.length
          callback(null, chunk)
        }
      })
      await pipeline(object.content, count, fs.createWriteStream(tmp))
    }
    const md5 = md5Context.digest('hex')
    await this.putMetadata(object.bucket, object.key, object.metadata, md5)
    await fsp.rename(tmp, objectPath)
    return { size, md5 }
  } catch (err) {
    await fsp.rm(tmp, { force: true })
    throw err
  }
}

const [directory, bucket] = process.argv.slice(2)
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
server.run().then((addr) => {
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\n')
}, (err) => {
  process.stderr.write(String(err && err.stack) + '\n')
  process.exit(1)
})
process.on('SIGTERM', () => { server.close().finally(() => process.exit(0)) })
