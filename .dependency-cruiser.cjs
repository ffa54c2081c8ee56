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
      name: "http-knows-no-feature",
      comment: "The HTTP layer serves the features' plugins; the assembly is src/app.",
      severity: "error",
      from: { path: "^src/http/" },
      to: { path: "^src/(ingest|rules|cases|console|webhooks|audit|model|sync|consumer|app)/" },
    },
    {
      name: "scoring-round-knows-no-group",
      comment: "The scoring round is used by the scorer's group and by replays; it imports neither.",
      severity: "error",
      from: { path: "^src/scoring/" },
      to: { path: "^src/(consumer|ops)/" },
    },
    {
      name: "store-never-imports-consumer",
      comment: "Stores are below the consumer.",
      severity: "error",
      from: { path: "^src/store/" },
      to: { path: "^src/(consumer|scoring)/" },
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
