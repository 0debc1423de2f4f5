/** The message body every delivery bench sends: ~2 KB of HTML, distinct per message. */
export const benchHtml = (i: number) => `<html><body><h1>Order ${i}</h1>${"<p>Thank you for your order. Your items ship soon and a receipt is attached below.</p>".repeat(24)}</body></html>`;
