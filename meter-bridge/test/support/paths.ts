import path from "node:path";

/** meter-bridge/ (this file runs from meter-bridge/build/test/support/) */
export const PACKAGE_ROOT = path.resolve(__dirname, "../../..");
export const REPO_ROOT = path.resolve(PACKAGE_ROOT, "..");
export const CLI = path.join(PACKAGE_ROOT, "dist/cli.js");
