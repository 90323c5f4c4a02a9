#!/usr/bin/env node
// The meter-bridge command: the compiled dist/cli.js (built by "prepare" on npm ci / npm install,
// or by `npm run build -w meter-bridge`). This launcher exists before the build, so npm can link it.
"use strict";
const path = require("node:path");
const cli = path.join(__dirname, "..", "dist", "cli.js");
try {
  require.resolve(cli);
} catch {
  process.stderr.write(`meter-bridge: not built yet (${cli} is missing): run "npm run build -w meter-bridge" in the repository\n`);
  process.exit(1);
}
require(cli);
