import { MakeIt3DClient, MakeIt3DTaskFailedError, MakeIt3DValidationError } from '@makeit3d/client';

const client = new MakeIt3DClient({
  baseUrl: process.env.MAKEIT3D_BASE_URL ?? 'http://localhost:8000', // `npm start`
  apiKey: process.env.MAKEIT3D_API_KEY ?? 'makeit3d_test_sk_dev_001', // the local test key
});

try {
  // One method per operation; `provider` narrows the request to that provider's fields.
  const submitted = await client.textToImage({
    task_id: 'readme-example',
    provider: 'openai',
    prompt: 'A violet cartoon flying elephant',
    size: '1024x1024',
    quality: 'high',
  });
  console.log(`job ${submitted.jobId} (Idempotency-Key ${submitted.idempotencyKey})`);

  // Polls at the provider's pace until the task is complete, then gives its result URLs.
  const result = await client.waitForResult(submitted, {
    timeoutMs: 5 * 60_000,
    onProgress: ({ status, progress }) => console.log(status, progress ?? ''),
  });
  console.log('result:', result.assetUrls.join(' '));
} catch (error) {
  if (error instanceof MakeIt3DValidationError) console.error(error.detail, error.errors);
  else if (error instanceof MakeIt3DTaskFailedError) console.error(error.errorCode, error.detail);
  throw error;
}
