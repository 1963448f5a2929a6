#!/usr/bin/env node
// The couic daemon. Build first: `npm run build` (npm start and npm test do it).
import '../dist/daemon/main.js';
