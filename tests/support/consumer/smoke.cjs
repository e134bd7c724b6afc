// CommonJS consumer: require() of the installed package, an ES module, which
// Node >= 22.12, Bun and Deno load synchronously (require(esm)).
"use strict";

import("./exercise.mjs")
  .then(({ exercise }) => exercise("require", (specifier) => require(specifier)))
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
