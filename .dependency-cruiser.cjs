/*
 * The import rules of CONVENTIONS.md ("imports run downhill"), checked by `npm run lint`.
 * Issue 33.
 */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "A cycle means a type or a function lives in the wrong room: move it down.",
      severity: "error",
      from: { path: "^src" },
      to: { circular: true },
    },
    {
      name: "domain-imports-nothing-above-it",
      comment:
        "src/domain is the bottom: it imports nothing of ours outside it but the error catalogue (which imports nothing).",
      severity: "error",
      from: { path: "^src/domain/" },
      to: { path: "^src/", pathNot: "^src/(domain/|errors[.]ts$)" },
    },
    {
      name: "store-never-imports-consumer",
      comment: "Stores are below the consumer.",
      severity: "error",
      from: { path: "^src/store/" },
      to: { path: "^src/consumer/" },
    },
    {
      name: "kafkajs-internals-only-in-tests",
      comment: "The fork is changed by patches/, never reached into at run time.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "node_modules/kafkajs/src/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // TypeScript 7 has no compiler API dependency-cruiser can use yet: swc parses the sources.
    parser: "swc",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "(^|/)(node_modules|test|bench|chaos)/" },
  },
};
