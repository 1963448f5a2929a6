#!/usr/bin/env node
// couicctl: command-line client of the couic daemon (compiled from src/cli, `npm run build`).
import '../dist/cli/main.js';
