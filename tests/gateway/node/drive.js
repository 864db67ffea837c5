// Drives a Sojourn gateway with the official @segment/analytics-node SDK, set up as an app
// would set it up: a host and a write key, nothing else. Used by test_segment_node_sdk.py.
//
//   node drive.js HOST WRITE_KEY USER plain|gzip
//
// Every call type, an anonymous visitor who signs up and a second anonymous id aliased to the
// user. Message ids are USER-<name>, so the test can find each call in the store. Prints one
// JSON line: the HTTP statuses the SDK saw and the delivery errors it reported.
//
// The SDK (3.1) posts plain JSON to /v1/batch. "gzip" sends the very same requests gzipped,
// through the SDK's documented httpClient option (a fetch-compatible function), the way an
// app adds compression to it.
'use strict'

const zlib = require('node:zlib')
const { Analytics } = require('@segment/analytics-node')

const [host, writeKey, user, mode] = process.argv.slice(2)

function gzipFetch(url, init) {
  const headers = { ...init.headers, 'Content-Encoding': 'gzip' }
  return fetch(url, { ...init, headers, body: zlib.gzipSync(init.body) })
}

async function main() {
  const analytics = new Analytics({
    writeKey,
    host,
    maxRetries: 0,
    flushInterval: 200,
    ...(mode === 'gzip' ? { httpClient: gzipFetch } : {}),
  })
  const statuses = []
  const errors = []
  analytics.on('http_response', (response) => statuses.push(response.status))
  analytics.on('error', (error) =>
    errors.push({ code: error.code, reason: String(error.reason && error.reason.message || error.reason) }),
  )
  const id = (name) => `${user}-${name}`
  const visitor = `anon-${user}`
  const other = `anon2-${user}`

  analytics.track({
    anonymousId: visitor,
    event: 'Product Added',
    properties: { sku: 's-1' },
    messageId: id('added'),
  })
  analytics.page({ anonymousId: visitor, name: 'Pricing', category: 'Shop', messageId: id('page') })
  analytics.track({ anonymousId: other, event: 'Product Viewed', messageId: id('viewed') })
  analytics.identify({
    userId: user,
    anonymousId: visitor,
    traits: { email: `${user}@example.com`, firstName: 'Ada' },
    messageId: id('identify'),
  })
  analytics.track({ userId: user, event: 'Signed Up', properties: { plan: 'free' }, messageId: id('signup') })
  analytics.screen({ userId: user, name: 'Home', messageId: id('screen') })
  analytics.group({ userId: user, groupId: 'acme', traits: { name: 'Acme' }, messageId: id('group') })
  analytics.alias({ userId: user, previousId: other, messageId: id('alias') })
  await analytics.closeAndFlush({ timeout: 30000 })
  process.stdout.write(JSON.stringify({ statuses, errors }) + '\n')
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack || error}\n`)
  process.exit(1)
})
