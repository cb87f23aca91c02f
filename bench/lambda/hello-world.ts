/** The baseline Lambda: bundled with the same options as the pipeline's functions. */
export const handler = async (): Promise<{ statusCode: number; body: string }> => ({
  statusCode: 200,
  body: 'hello',
});
