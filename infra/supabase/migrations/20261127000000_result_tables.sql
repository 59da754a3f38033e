-- Result tables the BFF keeps in the app's Supabase project (docs/api.md, Results).
-- One row per job and result index; the BFF upserts on (job_id, result_index), so every write
-- (pending at submit, processing at start, complete/failed at the end) is repeatable.

create table if not exists public.concept_images (
  id uuid primary key default gen_random_uuid(),
  task_id text not null,              -- the client's workspace item id
  job_id text not null,               -- the BFF job id (= Step Functions execution name)
  result_index integer not null default 0,
  tenant_id text not null,
  operation text not null,
  provider text not null,
  prompt text,
  status text not null check (status in ('pending', 'processing', 'complete', 'failed')),
  asset_url text,
  error text,
  ai_service_task_id text,            -- the provider's own job id, when it has one
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (job_id, result_index)
);

create table if not exists public.models (
  id uuid primary key default gen_random_uuid(),
  task_id text not null,
  job_id text not null,
  result_index integer not null default 0,
  tenant_id text not null,
  operation text not null,
  provider text not null,
  prompt text,
  status text not null check (status in ('pending', 'processing', 'complete', 'failed')),
  asset_url text,
  error text,
  ai_service_task_id text,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (job_id, result_index)
);

create index if not exists concept_images_task_id_idx on public.concept_images (tenant_id, task_id);
create index if not exists models_task_id_idx on public.models (tenant_id, task_id);

-- The BFF writes with the service-role key (which bypasses RLS); app users may read their rows
-- through policies the app defines. RLS is on so nothing is exposed by default.
alter table public.concept_images enable row level security;
alter table public.models enable row level security;
