#!/usr/bin/env node
// Generates the man pages and shell completions shipped in the package (dist/man,
// dist/completion), from the sources users already see: couicctl(8) from the CLI's
// yargs command tree (every command's --help), couic(8) from `couic --help` plus the
// operating notes below, couic.toml(5) from docs/config.md. Run by `npm pack` (prepack),
// after the build; the package's `man` field installs the pages.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const manDir = join(root, 'dist', 'man');
const completionDir = join(root, 'dist', 'completion');
mkdirSync(manDir, { recursive: true });
mkdirSync(completionDir, { recursive: true });

const run = (bin, args, env = {}) =>
  execFileSync(process.execPath, [join(root, 'bin', bin), ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });

/** Escapes text for roff: backslashes, and a leading dot or quote. */
const roff = (text) =>
  text
    .replace(/\\/g, '\\e')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');

const header = (name, section, title) => `.TH ${name.toUpperCase()} ${section} "" "couic ${version}" "${title}"\n`;
const preformatted = (text) => `.nf\n${roff(text.trimEnd())}\n.fi\n`;

// couicctl(8): walk the command tree through --help (groups list their verbs).
function subcommands(helpText, prefix) {
  const names = [];
  let inCommands = false;
  for (const line of helpText.split('\n')) {
    if (/^Commands:/.test(line)) inCommands = true;
    else if (/^\S/.test(line)) inCommands = false;
    else if (inCommands) {
      const match = new RegExp(`^\\s+couicctl ${prefix.map((p) => `${p} `).join('')}(\\S+)`).exec(line);
      if (match !== null && match[1] !== 'completion') names.push(match[1]);
    }
  }
  return names;
}

let couicctl = header('couicctl', 8, 'couic manual');
couicctl += '.SH NAME\ncouicctl \\- command-line client of the couic firewall daemon\n';
const topHelp = run('couicctl.js', ['--help']);
couicctl += `.SH SYNOPSIS\n${preformatted(topHelp)}`;
couicctl += '.SH COMMANDS\n';
const visit = (path) => {
  const help = run('couicctl.js', [...path, '--help']);
  const children = subcommands(help, path);
  if (children.length === 0) {
    couicctl += `.SS ${path.join(' ')}\n${preformatted(help)}`;
    return;
  }
  for (const child of children) visit([...path, child]);
};
for (const group of subcommands(topHelp, [])) visit([group]);
couicctl += `.SH SHELL COMPLETION
.nf
couicctl completion >> ~/.bashrc                       # bash
SHELL=/bin/zsh couicctl completion > ~/.zfunc/_couicctl  # zsh (a directory in $fpath)
.fi
The package also ships both scripts in dist/completion/.
.SH EXIT STATUS
0 on success, 1 when the server or the connection reports an error, 2 for a usage or config-file error.
.SH FILES
/etc/couic/couicctl.toml (or $COUICCTL_CONFIG, or \\-c FILE)
.SH SEE ALSO
couic(8), couic.toml(5); docs/cli.md in the package.
`;
writeFileSync(join(manDir, 'couicctl.8'), couicctl);

let couic = header('couic', 8, 'couic manual');
couic += '.SH NAME\ncouic \\- firewall-rule daemon: XDP drop/ignore rules, gRPC API, replication\n';
couic += `.SH SYNOPSIS\n${preformatted(run('couic.js', ['--help']))}`;
couic += `.SH DESCRIPTION
Runs in the foreground until stopped; systemd runs it with packaging/systemd/couic.service.
Configuration: couic.toml(5). The API is served on the Unix socket of [server] socket and,
when [server] listen is set, over TLS.
.SH SIGNALS
.TP
SIGTERM, SIGINT
The first one starts a clean stop (API closed, journal flushed, socket removed). A second one
during the stop is logged and ignored; a third one exits at once (status 130).
.TP
SIGHUP
Reopens the [logging] dir file couic.log (for logrotate; see packaging/logrotate/couic).
.SH FILES
/etc/couic/couic.toml, /var/lib/couic (working_dir), /run/couic/couic.sock, /var/log/couic/couic.log
.SH SEE ALSO
couicctl(8), couic.toml(5)
`;
writeFileSync(join(manDir, 'couic.8'), couic);

// couic.toml(5) from the Markdown reference: headings, paragraphs, code blocks, tables.
let toml = header('couic.toml', 5, 'couic manual');
toml += '.SH NAME\ncouic.toml \\- configuration file of the couic daemon\n';
let inCode = false;
for (const line of readFileSync(join(root, 'docs', 'config.md'), 'utf8').split('\n')) {
  if (line.startsWith('```')) {
    toml += inCode ? '.fi\n' : '.nf\n';
    inCode = !inCode;
  } else if (inCode) {
    toml += `${roff(line)}\n`;
  } else if (line.startsWith('# ')) {
    toml += '.SH DESCRIPTION\n';
  } else if (line.startsWith('## ')) {
    toml += `.SH ${roff(line.slice(3).replace(/`/g, '').toUpperCase())}\n`;
  } else if (line.startsWith('### ')) {
    toml += `.SS ${roff(line.slice(4).replace(/`/g, ''))}\n`;
  } else if (/^\|[-| ]+\|$/.test(line)) {
    // table rule: nothing
  } else if (line.startsWith('|')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim().replace(/`/g, ''));
    toml += `.TP\n${roff(cells[0] ?? '')}\n${roff(cells.slice(1).join(' \u2014 '))}\n`;
  } else if (line.trim() === '') {
    toml += '.PP\n';
  } else {
    toml += `${roff(line.replace(/`/g, '').replace(/\*\*/g, ''))}\n`;
  }
}
toml += '.SH SEE ALSO\ncouic(8), couicctl(8)\n';
writeFileSync(join(manDir, 'couic.toml.5'), toml);

writeFileSync(join(completionDir, 'couicctl.bash'), run('couicctl.js', ['completion'], { SHELL: '/bin/bash', ZSH_NAME: '' }));
writeFileSync(join(completionDir, '_couicctl'), run('couicctl.js', ['completion'], { SHELL: '/bin/zsh' }));
