/** Rules for admin logins and passwords, shared by the dashboard, the CLI and the first-run settings. */

export const MIN_ADMIN_PASSWORD = 12;

/** A login is any non-blank text of at most 254 characters without whitespace (the default is `admin`). */
export const LOGIN_PATTERN = /^\S{1,254}$/;
