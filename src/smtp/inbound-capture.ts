/**
 * Received mail that is kept but not acted on (auto-replies, unclassified) also goes into local
 * capture (docs/local-capture.md), beside the message it answers: delivered over SMTP to the capture
 * server with that message's signed X-Mailroom-Capture header, the way the delivery job captures
 * mail. Best effort: the mail is already recorded, a failed hop is only logged.
 */
import type { InboundEnvelope } from "@/features/bounces/inbound";
import { captureHeaderValue } from "@/lib/links";
import type { Logger } from "@/lib/log";
import { captureTarget } from "@/outbox/routing";
import { SmtpTransport } from "@/outbox/transport-smtp";

export class CaptureForwarder {
  private readonly transport = new SmtpTransport({ maxConnections: 1 });

  constructor(
    private readonly secret: string,
    private readonly log: Logger,
  ) {}

  /** Hands `raw` to the capture server on `port` as a reply to outbox message `messageId`; does not wait. */
  forward(raw: Buffer, envelope: InboundEnvelope, port: number, messageId: number): void {
    const message = { kind: "raw" as const, envelope: { from: envelope.mailFrom ?? "", to: [envelope.rcptTo] }, raw, headers: { "X-Mailroom-Capture": captureHeaderValue(this.secret, messageId) } };
    void this.transport.send(message, captureTarget(port)).then((result) => {
      if (result.outcome !== "sent") this.log.warn("inbound.capture_failed", { message_id: messageId, response: result.response });
    });
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
