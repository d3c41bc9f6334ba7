#!/usr/bin/env node
// The S3-compatible server of the S3 tests: s3rver (an npm package that
// stores objects in a directory) on 127.0.0.1, behind a thin front that
// adds what s3rver lacks and the tests need:
//   - it verifies AWS Signature V4 for real (s3rver checks only that the
//     access key exists), with the credential scope, signed headers and
//     canonical request of the AWS specification, so a wrongly signed
//     request fails here as it would on S3. The verifier proves itself at
//     start on the worked example of the AWS documentation;
//   - it answers AbortMultipartUpload (s3rver has no such route) and
//     records it, and it fails part 2 of any multipart upload whose key
//     contains "fail-part-2", so the abort-on-failure path can be tested;
//   - it answers ListObjectsV2 itself, from s3rver's store: s3rver 3.7.1
//     cannot paginate on Node 20 (its continuation tokens use DES, which
//     OpenSSL 3 no longer offers) and leaves out common prefixes that have
//     no object directly inside them ("a/" when only "a/b/c" exists). This
//     answer follows S3: keys and prefixes in one sorted sequence, MaxKeys
//     counting both, opaque continuation tokens, EncodingType=url;
//   - GET /__test/stats tells how many parts, completions and aborts it saw.
//
// Usage: node server.js --dir DIR --port-file FILE [--bucket NAME]...
// The port is written to FILE once the server listens; the server exits
// when its standard input closes (its parent is gone) or on SIGTERM.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const S3rver = require('s3rver');

const CREDENTIALS = { S3RVER: 'S3RVER' }; // s3rver's built-in account

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256hex(data) {
  return crypto.createHash('sha256').update(data, 'utf8').digest('hex');
}

// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, the rest
// %XX in upper case; '/' kept in paths only.
function uriEncode(s, keepSlash) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function decode(s) {
  return decodeURIComponent(s.replace(/\+/g, '%20'));
}

function canonicalRequest(method, rawPath, rawQuery, headers, signedHeaders, payloadHash) {
  // S3 does not normalise paths; it decodes the path once and re-encodes it.
  const canonicalUri = uriEncode(decodeURIComponent(rawPath), true);
  const params = rawQuery
    ? rawQuery.split('&').filter(Boolean).map(p => {
        const i = p.indexOf('=');
        const k = i < 0 ? p : p.slice(0, i);
        const v = i < 0 ? '' : p.slice(i + 1);
        return [uriEncode(decode(k), false), uriEncode(decode(v), false)];
      })
    : [];
  const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  params.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  const canonicalQuery = params.map(([k, v]) => `${k}=${v}`).join('&');
  const canonicalHeaders = signedHeaders
    .map(h => `${h}:${String(headers[h]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  return [method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders.join(';'),
          payloadHash].join('\n');
}

function signature(secret, amzDate, scope, creq) {
  const [date, region, service] = scope.split('/');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(creq)].join('\n');
  let key = hmac('AWS4' + secret, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  return crypto.createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

// Returns null when the request is correctly signed (unsigned requests are
// s3rver's to judge), else [code, why].
function verify(req) {
  const auth = req.headers.authorization;
  if (!auth) return null;
  const m = new RegExp('^AWS4-HMAC-SHA256 Credential=([^/]+)/([^,]+), ?' +
                       'SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$').exec(auth);
  if (!m) return ['AuthorizationHeaderMalformed', 'malformed Authorization header: ' + auth];
  const [, keyId, scope, signed, sig] = m;
  const secret = CREDENTIALS[keyId];
  if (secret === undefined)
    return ['InvalidAccessKeyId',
            'The AWS Access Key Id you provided does not exist in our records.'];
  const bad = checkSignature(req, scope, signed, sig, secret);
  return bad ? ['SignatureDoesNotMatch', bad] : null;
}

function checkSignature(req, scope, signed, sig, secret) {
  const signedHeaders = signed.split(';');
  for (const need of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!signedHeaders.includes(need)) return `header ${need} is not signed`;
  if (req.headers['x-amz-security-token'] !== undefined &&
      !signedHeaders.includes('x-amz-security-token'))
    return 'x-amz-security-token is not signed';
  const amzDate = req.headers['x-amz-date'];
  if (!scope.startsWith(amzDate.slice(0, 8) + '/') || !scope.endsWith('/s3/aws4_request'))
    return 'credential scope ' + scope + ' does not match the date or service';
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  const creq = canonicalRequest(req.method, rawPath, rawQuery, req.headers, signedHeaders,
                                req.headers['x-amz-content-sha256']);
  const want = signature(secret, amzDate, scope, creq);
  return want === sig ? null : 'signature mismatch; canonical request was:\n' + creq;
}

// The worked example of the AWS documentation ("GET Object" with a range).
function selfTest() {
  const headers = {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-amz-date': '20130524T000000Z',
  };
  const creq = canonicalRequest('GET', '/test.txt', '', headers,
                                ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
                                headers['x-amz-content-sha256']);
  const sig = signature('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', headers['x-amz-date'],
                        '20130524/us-east-1/s3/aws4_request', creq);
  if (sig !== 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41') {
    console.error('SigV4 verifier self-test failed: ' + sig);
    process.exit(3);
  }
}

function xmlText(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function xmlError(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
               `<Message>${xmlText(message)}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml',
                          'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// ListObjectsV2 over s3rver's store (see the top of the file).
async function listObjectsV2(store, bucket, q, res) {
  if (!(await store.getBucket(bucket))) {
    xmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    return;
  }
  const prefix = q.get('prefix') || '';
  const delimiter = q.get('delimiter') || '';
  const maxKeys = Math.max(0, Math.min(1000, Number(q.get('max-keys') || 1000)));
  const token = q.get('continuation-token');
  const after = token ? Buffer.from(token, 'base64').toString('utf8') : q.get('start-after') || '';
  const urlEnc = q.get('encoding-type') === 'url';
  const enc = k => (urlEnc ? encodeURIComponent(k).replace(/%2F/g, '/').replace(/%20/g, '+') : k);
  const all = await store.listObjects(bucket, { prefix, maxKeys: Infinity });
  const entries = new Map();
  for (const obj of all.objects) {
    const idx = delimiter ? obj.key.indexOf(delimiter, prefix.length) : -1;
    if (idx < 0) entries.set(obj.key, obj);
    else entries.set(obj.key.slice(0, idx + delimiter.length), null);
  }
  const names = [...entries.keys()].filter(n => n > after).sort((a, b) =>
    Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const page = names.slice(0, maxKeys);
  const truncated = names.length > page.length;
  let xml = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>${xmlText(bucket)}</Name><Prefix>${xmlText(enc(prefix))}</Prefix>` +
    `<KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
    (delimiter ? `<Delimiter>${xmlText(enc(delimiter))}</Delimiter>` : '') +
    (urlEnc ? '<EncodingType>url</EncodingType>' : '') +
    `<IsTruncated>${truncated}</IsTruncated>`;
  for (const n of page) {
    const obj = entries.get(n);
    if (obj)
      xml += `<Contents><Key>${xmlText(enc(n))}</Key>` +
             `<LastModified>${obj.lastModifiedDate.toISOString()}</LastModified>` +
             `<ETag>${xmlText(obj.metadata.etag || '')}</ETag><Size>${obj.size}</Size>` +
             '<StorageClass>STANDARD</StorageClass></Contents>';
  }
  for (const n of page)
    if (!entries.get(n))
      xml += `<CommonPrefixes><Prefix>${xmlText(enc(n))}</Prefix></CommonPrefixes>`;
  if (token) xml += `<ContinuationToken>${xmlText(token)}</ContinuationToken>`;
  if (truncated)
    xml += `<NextContinuationToken>${Buffer.from(page[page.length - 1]).toString('base64')}` +
           '</NextContinuationToken>';
  xml += '</ListBucketResult>';
  res.writeHead(200, { 'Content-Type': 'application/xml',
                       'Content-Length': Buffer.byteLength(xml) });
  res.end(xml);
}

function parseArgs(argv) {
  const o = { buckets: [] };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--dir') o.dir = argv[++i];
    else if (argv[i] === '--port-file') o.portFile = argv[++i];
    else if (argv[i] === '--bucket') o.buckets.push(argv[++i]);
    else throw new Error('unknown argument ' + argv[i]);
  }
  if (!o.dir || !o.portFile)
    throw new Error('usage: server.js --dir DIR --port-file FILE [--bucket NAME]...');
  return o;
}

async function main() {
  selfTest();
  const opts = parseArgs(process.argv);
  fs.mkdirSync(opts.dir, { recursive: true });
  const s3 = new S3rver({
    silent: true,
    directory: opts.dir,
    configureBuckets: opts.buckets.map(name => ({ name, configs: [] })),
  });
  await s3.configureBuckets();
  const app = s3.callback();
  const stats = { parts: 0, completes: 0, aborts: [], rejected: [] };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/__test/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    const bad = verify(req);
    if (bad) {
      stats.rejected.push(`${req.method} ${req.url}: ${bad[0]}: ${bad[1]}`);
      xmlError(res, 403, bad[0], bad[0] === 'SignatureDoesNotMatch'
        ? 'The request signature we calculated does not match the signature you provided.'
        : bad[1]);
      return;
    }
    const key = decodeURIComponent(url.pathname);
    const bucketOnly = /^\/[^/]+\/?$/.test(url.pathname);
    if (req.method === 'GET' && bucketOnly && url.searchParams.get('list-type') === '2') {
      listObjectsV2(s3.store, key.replace(/^\/|\/$/g, ''), url.searchParams, res)
        .catch(err => xmlError(res, 500, 'InternalError', String(err)));
      return;
    }
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      stats.aborts.push(key);
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method === 'PUT' && url.searchParams.has('uploadId')) {
      stats.parts++;
      if (url.searchParams.get('partNumber') === '2' && key.includes('fail-part-2')) {
        req.resume();
        xmlError(res, 500, 'InternalError', 'Injected failure of part 2');
        return;
      }
    }
    if (req.method === 'POST' && url.searchParams.has('uploadId')) stats.completes++;
    app(req, res);
  });
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    const tmp = opts.portFile + '.tmp';
    fs.writeFileSync(tmp, String(port));
    fs.renameSync(tmp, opts.portFile);
  });
  const quit = () => process.exit(0);
  process.stdin.on('end', quit);
  process.stdin.on('close', quit);
  process.stdin.resume();
  process.on('SIGTERM', quit);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});

