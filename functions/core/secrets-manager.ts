/**
 * The two parts of the Secrets Manager client that config.ts uses, loaded by it on the first read
 * of a secret. A module of their own so the bundler keeps only these (a dynamic import of the
 * client package itself would keep every one of its commands).
 */
export { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
