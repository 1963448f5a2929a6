// Resident memory of another process, from /proc/<pid>/status (Linux only).
import { readFile } from 'node:fs/promises';

export interface ProcessMemory {
  /** Current resident set size. */
  readonly rssBytes: number;
  /** Peak resident set size since the process started. */
  readonly peakRssBytes: number;
}

export async function readProcessMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rssBytes: statusField(status, 'VmRSS'), peakRssBytes: statusField(status, 'VmHWM') };
}

/** A "Name:   1234 kB" line of /proc/<pid>/status, in bytes. */
export function statusField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  if (match?.[1] === undefined) throw new Error(`no ${name} in /proc status`);
  return Number(match[1]) * 1024;
}
