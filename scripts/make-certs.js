#!/usr/bin/env node
// Makes the certificates of a couic cluster: a CA (kept if --out already has
// ca.pem + ca-key.pem), one certificate per node usable as TLS server and client,
// and optional client-only certificates. Needs the compiled code: npm run build.
//
//   node scripts/make-certs.js --out certs --nodes couic1,couic2 \
//        [--dns localhost] [--ip 127.0.0.1,::1] [--client admin] [--days 825]

import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `usage: node scripts/make-certs.js --out DIR --nodes NAME[,NAME...] [options]

  --out DIR          folder for the files (default: certs)
  --nodes LIST       node names; each gets NAME.pem + NAME-key.pem (SAN: NAME + --dns + --ip)
  --dns LIST         extra DNS names in every node certificate (e.g. localhost)
  --ip LIST          IP addresses in every node certificate (e.g. 127.0.0.1,::1)
  --client LIST      client-only certificates (e.g. admin, for couicctl over mTLS)
  --days N           lifetime of node and client certificates (default 825)
  --ca-days N        lifetime of a new CA (default 3650)
  --ca-name TEXT     common name of a new CA (default "couic cluster CA")
  -h, --help         this text

Lists take commas and the option may be repeated. An existing ca.pem + ca-key.pem in
--out is reused, so nodes added later join the same cluster. Node and client
certificates are (re)issued on every run.`;

function list(values) {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function days(text, option) {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${option}: expected a whole number of days, got ${JSON.stringify(text)}`);
  return n;
}

/** Paths below the current folder are shown relative, others as given. */
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: 'certs' },
      nodes: { type: 'string', multiple: true },
      dns: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
      client: { type: 'string', multiple: true },
      days: { type: 'string' },
      'ca-days': { type: 'string' },
      'ca-name': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const nodes = list(values.nodes);
  const clients = list(values.client);
  if (nodes.length === 0 && clients.length === 0) {
    console.error(`make-certs: give at least one --nodes or --client name\n\n${USAGE}`);
    return 2;
  }

  const compiled = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'pki', 'make-certificates.js');
  if (!existsSync(compiled)) {
    console.error(`make-certs: ${compiled} not found; build first with: npm run build`);
    return 1;
  }
  const { makeCertificates } = await import(pathToFileURL(compiled).href);
  const options = { outDir: values.out, nodes, clients, dnsNames: list(values.dns), ipAddresses: list(values.ip) };
  const leafDays = days(values.days, '--days');
  const caDays = days(values['ca-days'], '--ca-days');
  if (leafDays !== undefined) options.validDays = leafDays;
  if (caDays !== undefined) options.caValidDays = caDays;
  if (values['ca-name'] !== undefined) options.caCommonName = values['ca-name'];

  const written = await makeCertificates(options);
  for (const cert of written) {
    const where = `${shown(cert.certPath)} + ${shown(cert.keyPath)}`;
    if (cert.kind === 'ca') {
      console.log(`${cert.reused ? 'kept   ' : 'created'} CA      ${where}`);
    } else if (cert.kind === 'node') {
      const sans = [...cert.dnsNames.map((n) => `DNS:${n}`), ...cert.ipAddresses.map((ip) => `IP:${ip}`)].join(', ');
      console.log(`issued  node    ${where}  (server+client, ${sans})`);
    } else {
      console.log(`issued  client  ${where}  (client only)`);
    }
  }
  console.log('private keys (*-key.pem) are mode 600; never commit them.');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`make-certs: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
