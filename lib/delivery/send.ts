import type { DeliveryAttempt } from '../store/delivery-store.ts';

const MAX_KEPT_RESPONSE_CHARS = 1_000;

export interface SendResult {
  ok: boolean;
  attempt: DeliveryAttempt;
}

/**
 * POSTs one signed webhook. Only a 2xx counts as success; redirects are not followed
 * (a 3xx is a failure), so a subscriber cannot bounce us to another host.
 */
export async function postWebhook(
  request: { url: string; headers: Record<string, string>; body: string; timeoutMs: number },
  now: () => Date,
): Promise<SendResult> {
  const startedAt = now();
  const started = performance.now();
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Leadstage-Webhooks/0.1',
        ...request.headers,
      },
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const text = await response.text().catch(() => '');
    const attempt: DeliveryAttempt = {
      at: startedAt.toISOString(),
      statusCode: response.status,
      latencyMs: Math.round(performance.now() - started),
      responseBody: text.slice(0, MAX_KEPT_RESPONSE_CHARS),
    };
    return { ok: response.status >= 200 && response.status < 300, attempt };
  } catch (error) {
    const name = (error as Error).name;
    return {
      ok: false,
      attempt: {
        at: startedAt.toISOString(),
        latencyMs: Math.round(performance.now() - started),
        error:
          name === 'TimeoutError'
            ? `timed out after ${request.timeoutMs} ms`
            : `${name}: ${(error as Error).message}`,
      },
    };
  }
}
