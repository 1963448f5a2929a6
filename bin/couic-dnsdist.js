#!/usr/bin/env node
// couic-dnsdist: bridge between one dnsdist console and one couic daemon (compiled from src/dnsdist, `npm run build`).
import '../dist/dnsdist/main.js';
