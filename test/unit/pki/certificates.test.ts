import test from 'ava';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, loadCertificateAuthority } from '../../../src/pki/certificate-authority.js';
import { PkiError } from '../../../src/pki/errors.js';
import { issueCertificate } from '../../../src/pki/issue-certificate.js';
import { makeCertificates } from '../../../src/pki/make-certificates.js';
import { readPem, writePem } from '../../../src/pki/pem-files.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date('2030-01-01T00:00:00Z');

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'couic-pki-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the CA is a self-signed P-256 CA certificate with a PKCS#8 key', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10, now: NOW });
  const cert = new X509Certificate(ca.certPem);
  t.true(cert.ca);
  t.is(cert.subject, 'CN=test CA');
  t.is(cert.issuer, 'CN=test CA');
  t.true(cert.verify(cert.publicKey));
  t.is(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.is(new Date(cert.validTo).getTime() - NOW.getTime(), 10 * DAY_MS);
  t.true(new Date(cert.validFrom).getTime() < NOW.getTime());
  t.true(ca.keyPem.startsWith('-----BEGIN PRIVATE KEY-----'));
  t.true(cert.checkPrivateKey(createPrivateKey(ca.keyPem)));
});

test('a node certificate: signed by the CA, SANs as asked, server and client usage', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10 });
  const node = await issueCertificate(ca, {
    commonName: 'couic1',
    dnsNames: ['couic1', 'localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    validDays: 5,
    usage: 'both',
  });
  const cert = new X509Certificate(node.certPem);
  const caCert = new X509Certificate(ca.certPem);
  t.false(cert.ca);
  t.is(cert.subject, 'CN=couic1');
  t.true(cert.checkIssued(caCert));
  t.true(cert.verify(caCert.publicKey));
  t.deepEqual(cert.keyUsage?.slice().sort(), [SERVER_AUTH, CLIENT_AUTH]);
  t.is(cert.subjectAltName, 'DNS:couic1, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  t.is(cert.checkHost('localhost'), 'localhost');
  t.is(cert.checkIP('127.0.0.1'), '127.0.0.1');
  t.is(cert.checkIP('::1'), '::1');
  t.is(cert.checkIP('10.0.0.1'), undefined);
  t.true(cert.checkPrivateKey(createPrivateKey(node.keyPem)));
});

test('usage picks the extended key usage', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10 });
  const usage = async (u: 'server' | 'client'): Promise<string[] | undefined> =>
    new X509Certificate((await issueCertificate(ca, { commonName: u, validDays: 1, usage: u })).certPem).keyUsage;
  t.deepEqual(await usage('server'), [SERVER_AUTH]);
  t.deepEqual(await usage('client'), [CLIENT_AUTH]);
});

test('a certificate never outlives its CA', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'short CA', validDays: 3, now: NOW });
  const leaf = await issueCertificate(ca, { commonName: 'x', validDays: 365, usage: 'both', now: NOW });
  t.is(new X509Certificate(leaf.certPem).validTo, new X509Certificate(ca.certPem).validTo);
});

test('a CA key in SEC1 form ("EC PRIVATE KEY", as openssl writes it) is accepted', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10 });
  const sec1 = createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
  t.true(sec1.startsWith('-----BEGIN EC PRIVATE KEY-----'));
  const leaf = await issueCertificate({ certPem: ca.certPem, keyPem: sec1 }, { commonName: 'x', validDays: 1, usage: 'both' });
  t.true(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey));
});

test('bad CA material is refused with the field named', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'A', validDays: 10 });
  const other = await createCertificateAuthority({ commonName: 'B', validDays: 10 });
  const leaf = await issueCertificate(ca, { commonName: 'leaf', validDays: 1, usage: 'both' });
  const cases: Array<[string, { certPem: string; keyPem: string }, string, RegExp]> = [
    ['key of another CA', { certPem: ca.certPem, keyPem: other.keyPem }, 'ca.keyPem', /does not belong/],
    ['a leaf as CA', leaf, 'ca.certPem', /is not a CA certificate/],
    ['not a certificate', { certPem: 'junk', keyPem: ca.keyPem }, 'ca.certPem', /not a PEM certificate/],
    ['not a key', { certPem: ca.certPem, keyPem: 'junk' }, 'ca.keyPem', /not a usable PEM private key/],
  ];
  for (const [what, pair, field, pattern] of cases) {
    const err = await t.throwsAsync(issueCertificate(pair, { commonName: 'x', validDays: 1, usage: 'both' }), { instanceOf: PkiError }, what);
    t.is(err?.field, field, what);
    t.regex(err?.message ?? '', pattern, what);
  }
});

test('an expired CA is refused', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'old', validDays: 1, now: new Date('2020-01-01T00:00:00Z') });
  const err = await t.throwsAsync(loadCertificateAuthority(ca, NOW), { instanceOf: PkiError });
  t.regex(err?.message ?? '', /expired/);
});

test('bad requests are refused before anything is made', async (t) => {
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10 });
  const base = { commonName: 'x', validDays: 1, usage: 'both' as const };
  const cases: Array<[Parameters<typeof issueCertificate>[1], string]> = [
    [{ ...base, commonName: ' ' }, 'commonName'],
    [{ ...base, commonName: 'c'.repeat(65) }, 'commonName'],
    [{ ...base, validDays: 0 }, 'validDays'],
    [{ ...base, validDays: 1.5 }, 'validDays'],
    [{ ...base, dnsNames: ['ok', 'not ok'] }, 'dnsNames[1]'],
    [{ ...base, dnsNames: ['-x.tld'] }, 'dnsNames[0]'],
    [{ ...base, ipAddresses: ['127.0.0.1', '300.1.1.1'] }, 'ipAddresses[1]'],
  ];
  for (const [options, field] of cases) {
    const err = await t.throwsAsync(issueCertificate(ca, options), { instanceOf: PkiError }, field);
    t.is(err?.field, field);
  }
  await t.throwsAsync(createCertificateAuthority({ commonName: '', validDays: 1 }), { instanceOf: PkiError });
  // A wildcard DNS name is fine.
  await t.notThrowsAsync(issueCertificate(ca, { ...base, dnsNames: ['*.couic.tld'] }));
});

test('writePem: key mode 600, certificate 644, even over existing files; readPem reads them back', async (t) => {
  const dir = await tempDir(t);
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10 });
  await writeFile(join(dir, 'ca-key.pem'), 'old', { mode: 0o644 });
  const paths = await writePem(join(dir, 'sub'), 'ca', ca);
  t.deepEqual(paths, { certPath: join(dir, 'sub', 'ca.pem'), keyPath: join(dir, 'sub', 'ca-key.pem') });
  const again = await writePem(dir, 'ca', ca);
  t.is((await stat(again.keyPath)).mode & 0o777, 0o600);
  t.is((await stat(again.certPath)).mode & 0o777, 0o644);
  t.is(await readFile(again.keyPath, 'utf8'), ca.keyPem);
  t.deepEqual(await readPem(dir, 'ca'), ca);
  t.is(await readPem(dir, 'absent'), undefined);
  await rm(again.keyPath);
  await t.throwsAsync(readPem(dir, 'ca'), { instanceOf: PkiError, message: /ca-key\.pem: is missing/ });
  await t.throwsAsync(writePem(dir, '../escape', ca), { instanceOf: PkiError });
});

test('makeCertificates: CA reused on a second run, so later nodes join the same cluster', async (t) => {
  const dir = await tempDir(t);
  const first = await makeCertificates({ outDir: dir, nodes: ['couic1', 'couic2'], dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], clients: ['admin'] });
  t.deepEqual(first.map((c) => [c.kind, c.name, c.reused]), [
    ['ca', 'ca', false],
    ['node', 'couic1', false],
    ['node', 'couic2', false],
    ['client', 'admin', false],
  ]);
  t.deepEqual(first[1]?.dnsNames, ['couic1', 'localhost']);
  const caPem = await readFile(join(dir, 'ca.pem'), 'utf8');

  const second = await makeCertificates({ outDir: dir, nodes: ['couic3', '10.0.0.3'] });
  t.true(second[0]?.reused);
  t.is(await readFile(join(dir, 'ca.pem'), 'utf8'), caPem);
  const caCert = new X509Certificate(caPem);
  for (const name of ['couic1', 'couic2', 'couic3', 'admin', '10.0.0.3']) {
    const cert = new X509Certificate(await readFile(join(dir, `${name}.pem`), 'utf8'));
    t.true(cert.verify(caCert.publicKey), name);
    t.is((await stat(join(dir, `${name}-key.pem`))).mode & 0o777, 0o600, name);
  }
  // A node named by its address gets an IP SAN, not a DNS one.
  t.is(new X509Certificate(await readFile(join(dir, '10.0.0.3.pem'), 'utf8')).subjectAltName, 'IP Address:10.0.0.3');
  t.deepEqual(new X509Certificate(await readFile(join(dir, 'admin.pem'), 'utf8')).keyUsage, [CLIENT_AUTH]);
});

test('makeCertificates checks every request before writing anything', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(makeCertificates({ outDir: dir, nodes: ['ok', 'not ok'] }), { instanceOf: PkiError });
  await t.throwsAsync(makeCertificates({ outDir: dir, nodes: ['a'], ipAddresses: ['nope'] }), { instanceOf: PkiError });
  await t.throwsAsync(makeCertificates({ outDir: dir, nodes: ['a'], clients: ['a'] }), { instanceOf: PkiError, message: /used twice/ });
  await t.throwsAsync(makeCertificates({ outDir: dir, nodes: ['ca'] }), { instanceOf: PkiError, message: /used twice/ });
  await t.throwsAsync(stat(join(dir, 'ca.pem')), { code: 'ENOENT' });
});

test('makeCertificates refuses a CA certificate without its key', async (t) => {
  const dir = await tempDir(t);
  const ca = await createCertificateAuthority({ commonName: 'test CA', validDays: 10 });
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await t.throwsAsync(makeCertificates({ outDir: dir, nodes: ['a'] }), { instanceOf: PkiError, message: /ca-key\.pem: is missing/ });
});

/** A CA made outside couic (as with openssl), with a key of the given type, in its native PEM form. */
async function foreignMadeCa(type: 'rsa' | 'ed25519'): Promise<{ certPem: string; keyPem: string }> {
  const { webcrypto, generateKeyPairSync } = await import('node:crypto');
  const { loadX509 } = await import('../../../src/pki/x509-module.js');
  const x509 = await loadX509();
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519');
  const algorithm = type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'Ed25519' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pair.privateKey.export({ type: 'pkcs8', format: 'der' }), algorithm, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', pair.publicKey.export({ type: 'spki', format: 'der' }), algorithm, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=external ${type} CA`,
    keys: { privateKey, publicKey },
    signingAlgorithm: algorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)], // no key identifier, like a bare openssl CA
  });
  const keyPem = pair.privateKey.export(type === 'rsa' ? { type: 'pkcs1', format: 'pem' } : { type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: cert.toString('pem'), keyPem };
}

for (const type of ['rsa', 'ed25519'] as const) {
  test(`an existing ${type} CA can issue node certificates`, async (t) => {
    const ca = await foreignMadeCa(type);
    if (type === 'rsa') t.true(ca.keyPem.startsWith('-----BEGIN RSA PRIVATE KEY-----'));
    const leaf = await issueCertificate(ca, { commonName: 'n1', dnsNames: ['n1'], validDays: 1, usage: 'both' });
    const cert = new X509Certificate(leaf.certPem);
    t.true(cert.verify(new X509Certificate(ca.certPem).publicKey));
    t.is(cert.issuer, `CN=external ${type} CA`);
  });
}
