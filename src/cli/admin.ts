/**
 * `mailroom admin reset-password EMAIL`: sets (or generates and prints once) an admin's password and
 * ends the admin's dashboard sessions.
 */
import { eq } from "drizzle-orm";
import { AdminSessions } from "@/admin/session";
import { MIN_ADMIN_PASSWORD } from "@/lib/credentials";
import { hashPassword, normalizeLogin } from "@/admin/users";
import { admin_users } from "@/db/schema";
import { CLI_ACTOR, recordAudit } from "@/features/audit_log/service";
import { randomBase62 } from "@/lib/tokens";
import { DATA_DIR_OPTION, dataDirArgv, parse, UsageError, type Command } from "./args";
import { closeCliDeps, openCliDeps } from "./context";

const resetPassword: Command = {
  usage: `mailroom admin reset-password EMAIL [--password PASSWORD] [--data-dir DIR]
  Sets the admin's password (≥ ${MIN_ADMIN_PASSWORD} characters); without --password one is generated and printed once.`,
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...DATA_DIR_OPTION, password: { type: "string" } }, 1);
    const email = positionals[0];
    if (!email) throw new UsageError("give the admin EMAIL");
    if (values.password !== undefined && values.password.length < MIN_ADMIN_PASSWORD) {
      throw new UsageError(`--password must be at least ${MIN_ADMIN_PASSWORD} characters`);
    }
    const deps = openCliDeps(env, dataDirArgv(values));
    try {
      const admin = deps.db.select().from(admin_users).where(eq(admin_users.email, normalizeLogin(email))).get();
      if (!admin) {
        console.error(`mailroom: no admin user ${email}`);
        return 1;
      }
      const password = values.password ?? randomBase62(20);
      const hash = await hashPassword(password);
      deps.db.transaction((tx) => {
        tx.update(admin_users).set({ password_hash: hash, updated_at: deps.clock.now() }).where(eq(admin_users.id, admin.id)).run();
        recordAudit(tx, deps.clock, {
          actor: CLI_ACTOR,
          action: "admin_user.password_reset",
          target: { type: "admin_user", id: admin.id, label: admin.email },
          changes: { password: ["[redacted]", "[redacted]"] },
        });
      });
      new AdminSessions(deps).endAllOf(admin.id);
      console.log(values.password ? `Password of ${email} updated.` : `New password of ${email} (shown once):\n${password}`);
      return 0;
    } finally {
      closeCliDeps(deps);
    }
  },
};

export const adminCommands: Record<string, Command> = { "reset-password": resetPassword };
