/**
 * An email server as the outbound transport sees it: connection settings with the password
 * decrypted. Owned here so the outbox imports the feature, never the other way round.
 */
import type { EmailServer } from "@/db/schema";
import type { Deps } from "@/deps";
import { decryptSecret } from "@/lib/secrets";

/** A configured email server (§9), with the SMTP password already decrypted. */
export interface ServerTarget {
  kind: "server";
  id: number;
  host: string;
  port: number;
  /** Implicit TLS (465-style). */
  secure: boolean;
  /** Upgrade with STARTTLS when offered. */
  starttls: boolean;
  username: string | null;
  password: string | null;
  authMethod: "plain" | "login" | "cram_md5" | null;
  /** Changes when the server row changes, so pooled connections are rebuilt. */
  version: number;
  /** Pooled connections (the server's `max_connections`). */
  maxConnections: number;
}

/** The transport's view of a server, password decrypted. A password the key cannot decrypt is treated as absent. */
export function serverTarget(deps: Deps, s: EmailServer): ServerTarget {
  let password: string | null = null;
  if (s.smtp_password_enc) {
    try {
      password = decryptSecret(deps.config.dataDir, s.smtp_password_enc);
    } catch (err) {
      deps.log.error("email_server.password_unreadable", { email_server_id: s.id, error: (err as Error).message });
    }
  }
  return {
    kind: "server",
    id: s.id,
    host: s.smtp_address,
    port: s.smtp_port,
    secure: s.smtp_tls,
    starttls: s.smtp_enable_starttls_auto,
    username: s.smtp_username,
    password,
    authMethod: s.smtp_authentication,
    version: s.updated_at,
    maxConnections: s.max_connections,
  };
}
