// Key handling for certificates: new ECDSA P-256 keys for what we issue, and import of
// an existing CA key in any common PEM form (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 RSA),
// since operators may bring a CA made with openssl.

import { createPrivateKey, createPublicKey, KeyObject, webcrypto, type KeyObject as KeyObjectType } from 'node:crypto';
import { PkiError } from './errors.js';

export interface SigningKey {
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  /** Algorithm to sign certificates with (hash chosen to match the key strength). */
  signingAlgorithm: webcrypto.EcdsaParams | webcrypto.Algorithm | webcrypto.RsaHashedImportParams;
}

const NEW_KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** A fresh ECDSA P-256 key pair (extractable, so it can be written as PEM). */
export async function generateSigningKey(): Promise<SigningKey> {
  const keys = await webcrypto.subtle.generateKey(NEW_KEY_ALGORITHM, true, ['sign', 'verify']);
  return { privateKey: keys.privateKey, publicKey: keys.publicKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } };
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY") of an extractable private key. */
export function privateKeyToPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Imports a PEM private key for signing; `field` names it in errors. */
export async function importSigningKey(keyPem: string, field: string): Promise<SigningKey> {
  let key: KeyObjectType;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new PkiError(field, `not a usable PEM private key (encrypted keys are not supported): ${messageOf(err)}`, { cause: err });
  }
  const params = importParams(key, field);
  const subtle = webcrypto.subtle;
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, params.importAlgorithm, false, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, params.importAlgorithm, true, ['verify']);
  return { privateKey, publicKey, signingAlgorithm: params.signingAlgorithm };
}

interface ImportParams {
  importAlgorithm: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm;
  signingAlgorithm: SigningKey['signingAlgorithm'];
}

const EC_CURVES: Record<string, { curve: string; hash: string }> = {
  prime256v1: { curve: 'P-256', hash: 'SHA-256' },
  secp384r1: { curve: 'P-384', hash: 'SHA-384' },
  secp521r1: { curve: 'P-521', hash: 'SHA-512' },
};

function importParams(key: KeyObjectType, field: string): ImportParams {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const named = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (named === undefined) throw new PkiError(field, `unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve ?? '(unknown)'}`);
    return {
      importAlgorithm: { name: 'ECDSA', namedCurve: named.curve },
      signingAlgorithm: { name: 'ECDSA', hash: named.hash },
    };
  }
  if (type === 'rsa') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAlgorithm: algorithm, signingAlgorithm: algorithm };
  }
  if (type === 'ed25519') return { importAlgorithm: { name: 'Ed25519' }, signingAlgorithm: { name: 'Ed25519' } };
  throw new PkiError(field, `unsupported key type ${type ?? '(unknown)'}; use EC (P-256/P-384/P-521), RSA or Ed25519`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
