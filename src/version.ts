/** Mailroom's version (kept equal to package.json's by test/unit/version.test.ts). */
export const VERSION = "1.0.0";
