import { resolve } from "node:path";

/** The repository's root: where bin/, infra/, schemas/ and the local stack's .stack/ live. */
export const REPO_ROOT = resolve(import.meta.dirname, "..");
