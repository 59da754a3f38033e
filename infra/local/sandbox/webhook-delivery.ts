/**
 * How the simulators deliver a webhook: POST the signed body to the subscriber, up to three
 * attempts (0.2 s, then 0.4 s apart) until it answers 2xx. `record.status` follows the last
 * answer (0 when the connection failed), so tests can see what the subscriber said. The body and
 * headers, which differ by provider, are each simulator's own (flux.ts, tripo/webhooks.ts).
 */
export async function deliverWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  record: { status: number },
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const answer = await fetch(url, { method: 'POST', headers, body });
      record.status = answer.status;
      await answer.arrayBuffer().catch(() => undefined);
      if (answer.ok) return;
    } catch {
      record.status = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
  }
}
