/** Email address checks shared by every feature (docs/api-reference.md §20: ≤ 254 characters). */
const EMAIL = /^[^\s@<>(),;:"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export const MAX_EMAIL_LENGTH = 254;

export function isEmail(value: string): boolean {
  return value.length <= MAX_EMAIL_LENGTH && EMAIL.test(value);
}

/** Stored form: trimmed and lower-cased. */
export const normalizeEmail = (value: string) => value.trim().toLowerCase();

export const emailDomain = (value: string) => value.slice(value.lastIndexOf("@") + 1).toLowerCase();
