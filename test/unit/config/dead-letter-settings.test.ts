import { describe, expect, it } from 'vitest';
import { settingsFromLambdaEnv } from '../../../lib/config/settings.ts';

const baseEnv = {
  TABLE_NAME: 'leadstage',
  INGEST_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/ingest',
  DELIVERY_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/delivery',
};
const noSecrets = async (id: string): Promise<string> => {
  throw new Error(`no secret ${id}`);
};

describe('settingsFromLambdaEnv: what the dead-letter API needs', () => {
  it('reads the DLQ URLs and the maxReceiveCount', async () => {
    const settings = await settingsFromLambdaEnv(
      {
        ...baseEnv,
        INGEST_DLQ_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/ingest-dlq',
        DELIVERY_DLQ_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/delivery-dlq',
        MAX_RECEIVE_COUNT: '5',
      },
      noSecrets,
    );
    expect(settings).toMatchObject({
      ingestDlqUrl: 'https://sqs.eu-central-1.amazonaws.com/123456789012/ingest-dlq',
      deliveryDlqUrl: 'https://sqs.eu-central-1.amazonaws.com/123456789012/delivery-dlq',
      maxReceiveCount: 5,
    });
  });

  it('leaves the maxReceiveCount out when it is not set, and refuses one that is not a count', async () => {
    expect(await settingsFromLambdaEnv(baseEnv, noSecrets)).not.toHaveProperty('maxReceiveCount');
    for (const bad of ['0', 'five', '2.5']) {
      await expect(
        settingsFromLambdaEnv({ ...baseEnv, MAX_RECEIVE_COUNT: bad }, noSecrets),
      ).rejects.toThrow(/MAX_RECEIVE_COUNT/);
    }
  });
});
