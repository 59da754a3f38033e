/** Tenant types of `POST /auth/register` (docs/api.md, Authentication and tenants). */
export const TENANT_TYPES = ['shopify', 'supabase_app', 'custom', 'development'] as const;
export type TenantType = (typeof TENANT_TYPES)[number];
