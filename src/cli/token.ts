/** `mailroom token create|list|refresh|revoke`: token management against the data dir (audited as `cli`). */
import { canonicalPermission, isPreset } from "@/auth/permissions";
import { encodeToken, TokenFields } from "@/features/access_tokens/model";
import { createToken, deleteToken, listTokens, refreshToken, type TokenInput } from "@/features/access_tokens/service";
import { readFields } from "@/input/fields";
import { DATA_DIR_OPTION, dataDirArgv, parse, UsageError, type Command } from "./args";
import { CLI_TOKEN_ACTOR, closeCliDeps, openCliDeps } from "./context";

const create: Command = {
  usage: `mailroom token create --name NAME [--preset all|read_only|none|transactional] [--permissions p1,p2]
                      [--scope channels|all] [--channel SLUG]... [--allowed-ip CIDR]... [--expires-at ISO] [--json] [--data-dir DIR]
  Creates an access token and prints its value once. --permissions are added to the preset.
  Scope defaults to channels, channel to "default".`,
  async run(argv, env) {
    const { values } = parse(argv, {
      ...DATA_DIR_OPTION,
      name: { type: "string" },
      preset: { type: "string" },
      permissions: { type: "string" },
      scope: { type: "string" },
      channel: { type: "string", multiple: true },
      "allowed-ip": { type: "string", multiple: true },
      "expires-at": { type: "string" },
      json: { type: "boolean" },
    });
    if (!values.name) throw new UsageError("--name is required");
    if (values.preset && !isPreset(values.preset)) throw new UsageError(`unknown preset: ${values.preset}`);
    const perms = (values.permissions ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = perms.filter((p) => !canonicalPermission(p));
    if (unknown.length) throw new UsageError(`unknown permission: ${unknown.join(", ")}`);
    if (!values.preset && perms.length === 0) throw new UsageError("give --preset and/or --permissions");
    const scope = values.scope ?? "channels";
    if (scope === "all" && values.channel) throw new UsageError("--channel is not used with --scope all (such a token reaches every channel)");
    // The preset is the base set; --permissions are added to it (an object of changes).
    const { values: fields } = readFields(TokenFields, {
      name: values.name,
      scope,
      ...(values.preset ? { preset: values.preset } : {}),
      ...(scope === "channels" ? { channels: values.channel ?? ["default"] } : {}),
      ...(values["allowed-ip"] ? { allowed_ips: values["allowed-ip"] } : {}),
      ...(values["expires-at"] ? { expires_at: values["expires-at"] } : {}),
      ...(perms.length ? { permissions: Object.fromEntries(perms.map((p) => [p, true])) } : {}),
    });
    const deps = openCliDeps(env, dataDirArgv(values));
    try {
      const { view, value } = createToken(deps, CLI_TOKEN_ACTOR, fields as TokenInput);
      if (values.json) {
        const t = encodeToken(view, deps.config);
        const permissions = Object.entries(t.permissions).filter(([, on]) => on).map(([p]) => p);
        console.log(JSON.stringify({ id: t.id, name: t.name, token: value, redacted_value: t.redacted_value, scope: t.scope, channels: t.channels, permissions, expires_at: t.expires_at }));
      } else {
        console.log(`Created token ${view.row.id} "${view.row.name}". Its value is shown only once:\n${value}`);
      }
      return 0;
    } finally {
      closeCliDeps(deps);
    }
  },
};

const list: Command = {
  usage: `mailroom token list [--json] [--data-dir DIR]
  Lists tokens: id, name, redacted value, scope, channels, last used (never values).`,
  async run(argv, env) {
    const { values } = parse(argv, { ...DATA_DIR_OPTION, json: { type: "boolean" } });
    const deps = openCliDeps(env, dataDirArgv(values));
    try {
      const { rows } = listTokens(deps, CLI_TOKEN_ACTOR, 1_000_000, 0);
      const tokens = rows.map((v) => encodeToken(v, deps.config));
      if (values.json) console.log(JSON.stringify(tokens));
      else {
        console.log(["ID", "NAME", "VALUE", "SCOPE", "CHANNELS", "LAST USED"].join("\t"));
        for (const t of tokens) console.log([t.id, t.name, t.redacted_value, t.scope, t.channels.join(",") || "-", t.last_used_at ?? "never"].join("\t"));
      }
      return 0;
    } finally {
      closeCliDeps(deps);
    }
  },
};

const tokenId = (raw: string | undefined) => {
  if (!raw || !/^\d+$/.test(raw)) throw new UsageError("give the token ID (a number)");
  return Number(raw);
};

const refresh: Command = {
  usage: `mailroom token refresh ID [--grace SECONDS] [--json] [--data-dir DIR]
  Gives the token a new value (printed once). With --grace the old value keeps working that long (≤ 86400 s).`,
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...DATA_DIR_OPTION, grace: { type: "string" }, json: { type: "boolean" } }, 1);
    const id = tokenId(positionals[0]);
    if (values.grace !== undefined && !/^\d+$/.test(values.grace)) throw new UsageError("--grace must be a number of seconds");
    const deps = openCliDeps(env, dataDirArgv(values));
    try {
      const { view, value } = refreshToken(deps, CLI_TOKEN_ACTOR, id, Number(values.grace ?? 0));
      if (values.json) console.log(JSON.stringify({ ...encodeToken(view, deps.config), token: value }));
      else console.log(`Refreshed token ${id}. New value (shown once):\n${value}`);
      return 0;
    } finally {
      closeCliDeps(deps);
    }
  },
};

const revoke: Command = {
  usage: `mailroom token revoke ID [--data-dir DIR]
  Deletes the token; it stops working on the server's next request.`,
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...DATA_DIR_OPTION }, 1);
    const id = tokenId(positionals[0]);
    const deps = openCliDeps(env, dataDirArgv(values));
    try {
      deleteToken(deps, CLI_TOKEN_ACTOR, id);
      console.log(`Revoked token ${id}.`);
      return 0;
    } finally {
      closeCliDeps(deps);
    }
  },
};

export const tokenCommands: Record<string, Command> = { create, list, refresh, revoke };
