import path from "node:path";
import { fileURLToPath } from "node:url";

export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const REPO_ROOT = path.resolve(WEB_ROOT, "..");
export const OUTPUT = path.join(WEB_ROOT, "test-output");
