// ESM consumer: `import` of the installed package (see exercise.mjs).
import { exercise } from "./exercise.mjs";

await exercise("esm", (specifier) => import(specifier));
