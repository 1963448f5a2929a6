// Reads and parses a TOML file, turning every way that can fail (missing, unreadable,
// not TOML) into a ConfigError that names the file.

import { readFile } from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './errors.js';

export async function readTomlFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT') throw ConfigError.forFile(path, 'config file not found', err);
    if (code === 'EISDIR') throw ConfigError.forFile(path, 'is a directory, expected a TOML config file', err);
    if (code === 'EACCES') throw ConfigError.forFile(path, 'permission denied reading the config file', err);
    throw ConfigError.forFile(path, `cannot read the config file: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return parseToml(text, path);
}

/** Parses TOML text; `path` only labels errors. */
export function parseToml(text: string, path: string): unknown {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = (err.message.split('\n')[0] ?? err.message).replace(/^Invalid TOML document:\s*/, '');
      throw ConfigError.forFile(path, `invalid TOML at line ${err.line}, column ${err.column}: ${firstLine}`, err);
    }
    throw err;
  }
}
