/**
 * Tripo 3D API **v3** simulator, mounted by the local stack at `/__sandbox/tripo` so that the
 * adapter's base URL is `<mount>/v3` (Tripo: `https://openapi.tripo3d.ai/v3`). Tripo shut the v2
 * API (`api.tripo3d.ai/v2/openapi`) down on 2026-10-31, so every path outside `/v3` — all the v2
 * paths (`/v2/openapi/task`, `/v2/openapi/upload`, …) included — answers a bare nginx 404 page, as a
 * host without the API does. The code lives in ./tripo/ (routes, validation, tasks, files, meshes).
 *
 * Written from Tripo's public documentation and SDKs, never from our adapter. Sources, all checked
 * 2026-12-02 (developers.tripo3d.ai itself could not be read; it is known through the sources below):
 * - Tripo's Python SDK 1.0.0 release notes, 2026-10-14
 *   (github.com/Tripo-Developer/tripo-python-sdk/releases/tag/v1.0.0): v3 hosts, v2 shutdown date,
 *   "Tripo has retired refine and stylize", downloads without the API key;
 * - ComfyUI-Tripo 2.0.0 release notes (github.com/Tripo-Developer/ComfyUI-Tripo/releases):
 *   texture_version v3.5-20260815, texture_quality `fast`, delight, P2;
 * - Tripo's official JS SDK (github.com/VAST-AI-Research/tripo-js-sdk: src/http.js, src/client.js,
 *   src/utils.js, src/constants.js, types/index.d.ts, README.md) and Go SDK
 *   (github.com/VAST-AI-Research/tripo-go-sdk: http.go, generation.go, types.go): paths, Bearer
 *   `tsk_…` keys, `file_token` uploads, bare-string references, positional multiview, Retry-After,
 *   five-minute download links, FBX output for quad;
 * - Tripo's agent skill (github.com/VAST-AI-Research/Tripo3D-Plugin-dsh
 *   plugin/skills/tripo-3d/SKILL.md, "mirrors the official API docs"): models and per-model limits,
 *   P-series omissions, prices, concurrency, upload formats, "there is no refine step";
 * - tryAGI/Tripo src/libs/Tripo/openapi.yaml ("locally maintained from
 *   developers.tripo3d.ai/en/docs"): request and response schemas, error envelope;
 * - Tripo's migration skill "tripo-v2-to-v3-migration" (a SKILL.md whose publisher could not be
 *   confirmed; it claims to be checked against Tripo's server code): `model` required, aliases,
 *   legacy `file`/`files`/`original_model_task_id`, statuses, error codes 1003/1004/4001;
 * - github.com/Comfy-Org/ComfyUI PR #15851 (verified live): `v2.0-20240919` → 2015, refine gone;
 * - a copy of Tripo's v2 docs (github.com/funmagic-ai/magi-3d-sdk tripo/*.md): the v2 error
 *   table the v3 codes are "intentionally aligned with", X-Tripo-Trace-ID, task ownership.
 *
 * Endpoints (JSON bodies, `Content-Type: application/json`, except the upload):
 * - `POST /v3/generation/text-to-model`, `/v3/generation/image-to-model`,
 *   `/v3/generation/multiview-to-model`, `POST /v3/models/texture` →
 *   `{code: 0, status: "success", data: {task_id, type, status: "queued"}}`;
 * - `POST /v3/files` (multipart, part `file`; PNG/JPEG/WebP ≤ 20 MB, GLB/FBX/OBJ/STL ≤ 150 MB) →
 *   `data: {file_token: "file_<uuid>"}`;
 * - `GET /v3/tasks/{task_id}` → `data: {task_id, type, status, progress, input, output: {model_url,
 *   rendered_image_url}, credits_consumed, created_at, completed_at?, error_code?, error_message?}`;
 * - `POST /v3/tasks/list` `{task_ids}` (≤ 100) → `data: {tasks: {<id>: task}, missed: [ids]}`;
 *   each listed task counts as a poll;
 * - `GET /v3/account/balance` → `data: {balance, frozen}` (decimal credits);
 * - `GET /v3/account/usage?limit=&offset=` → `data: [{task_id, type, status, credits_consumed, created_at}]`;
 * - `GET /v3/__files/<id>/<name>.<ext>` (sandbox-only path standing in for Tripo's download host):
 *   result files, GLB models (FBX when `quad`), PNG previews. No key needed; a link stops working
 *   five minutes after it was issued (403), and every poll of a successful task issues fresh ones.
 * - **There is no refine endpoint**: `POST /v3/models/refine` and `/v3/models/stylize` (retired by
 *   Tripo) answer like any unknown route under /v3: 404 with code 4001. So do the v3 endpoints the
 *   sandbox does not simulate (presign and STS uploads, image generation, rigging, conversion, …).
 *
 * Envelope and errors: success `{code: 0, status: "success", data}`; errors `{code, status: "error",
 * message, suggestion, request_id}` with HTTP status by code — 1003 malformed body 400 (405 wrong
 * method, 415 wrong Content-Type), 1004 invalid parameter 400, 1007 request rate 429, 2000
 * concurrency 429 (both with `Retry-After`), 2001 task not found 404, 2003 empty/unreachable input
 * 400, 2004 unsupported file 400, 2006 wrong kind of source task 400, 2007 source task not
 * successful 400, 2008 content policy 400, 2010 credits 403, 2013 priority not entitled 403, 2015
 * deprecated version 400, 4001 unknown route 404, 1000/1001 server errors 500. Every answer carries
 * `X-Tripo-Trace-ID` (equal to the error body's `request_id`).
 *
 * Auth: `Authorization: Bearer <key>`; keys are `tsk_…`, and the placeholder `sandbox` is accepted
 * too. A missing or invalid key answers HTTP 401 (body code 1002 — sources disagree on the code,
 * so clients should branch on the status). Tasks, file tokens and credits belong to the key that
 * created them: another key gets 2001 for a task and 1004 for a file token.
 *
 * Validation answers the first problem found. Undocumented body fields answer 1004 by default
 * (`tripoSandboxSettings.extraFields = 'accept'` ignores them); v2's `type` field is always
 * ignored; `style` (not documented for v3), `original_task_id`, and the SDKs' top-level
 * `text_prompt` / `image_prompt` are undocumented fields. Generation rules:
 * - `model` is required (1004), `model_version` is an alias (not both). Valid: v3.1-20260211,
 *   v3.0-20250812, v2.5-20250123, P1-20260311, P2-20260801. `Turbo-v1.0-20250506` and
 *   `v2.0-20240919` → 2015 "The version has been deprecated"; anything else (v1.x, aliases such as
 *   `tripo-v3.1`) → 1004.
 * - P series: `smart_low_poly`, `generate_parts`, `geometry_quality` (and `quad` for P1) must be
 *   omitted, even when false. v2.5: no `geometry_quality`; `quad`, `smart_low_poly`,
 *   `generate_parts` need a v3.x model (P2 takes `quad`).
 * - `face_limit`: v3.1 1–1,500,000 (2,000,000 with geometry_quality detailed), v3.0 1–1,000,000,
 *   v2.5 1–500,000, smart_low_poly 500–20,000 (500–10,000 with quad), P1 50–20,000, P2 48–50,000
 *   (48–25,000 with quad).
 * - `generate_parts: true` needs `texture: false` and `pbr: false` sent explicitly; it ignores
 *   `quad`, and `smart_low_poly` wins over it. `texture_quality: "fast"` needs `texture_version:
 *   "v3.5-20260815"`. `orientation: "align_image"` on P1 needs texturing. `priority` 1–3; above 1
 *   → 403/2013 (sandbox keys have no entitlement). prompt ≤ 1024, negative_prompt ≤ 255.
 * - Inputs: `input` as a bare string (`file_…` token of this key, http(s) URL, or task id) or an
 *   object `{file_token} | {url}` (optional `type`); legacy `file: {type, file_token | url}`.
 *   base64 and `data:` URLs → 1004; unknown or expired tokens → 1004; a task id must be an image
 *   task of this key (the sandbox makes none: 2006, or 2001 when unknown). `object` references
 *   (STS uploads, not simulated) → 1004. Images must decode (PNG/JPEG/WebP, ≤ 20 MB).
 * - Multiview: `inputs` as view-keyed objects `[{front: ref}, {back: ref}]` (one key per item, no
 *   duplicates), exactly 4 positional strings with `""` gaps, or `[{task_id}]`; legacy `files`
 *   (4 slots, `{}` gaps) or `original_model_task_id` (makes `files` ignored). Mixing shapes →
 *   1004; front required, at least 2 views. Reused tasks must be multiview image tasks (2006).
 * Re-texture (`/models/texture`): `input` (or legacy `original_model_task_id`) = a successful 3D
 * task of this key (2001 unknown, 2007 not successful), an uploaded model's `file_token`, or a
 * model URL; `model` optional, default v3.0-20250812 (v3.5-20260815, v2.5-20250123 also valid);
 * `texture_prompt` with exactly one of `text` | `image` | `images` (4 refs), `style_image` only with
 * `text`, required for an imported model; `fast` quality and `delight: true` need v3.5. The result
 * is a GLB: the source task's mesh with the new surface, an uploaded GLB re-tinted, or a new mesh
 * for FBX/OBJ/STL imports.
 *
 * Task timeline, driven by polls (the simulator has no clock of its own for progress): the first
 * `queuedPolls` polls (default 2) answer `queued` (progress 0), the next `runningPolls` (default 3)
 * `running` with rising progress, the last of them at 99, then the outcome, which later polls
 * repeat. `setTripoTimeline` changes both counts for tasks created afterwards. Progress never goes
 * down and is 100 only at success; `completed_at` appears with a terminal status.
 * `setTripoClockTimeline(queuedSeconds, runningSeconds)` (test-facing) makes tasks created
 * afterwards follow the clock `tripoSandboxSettings.now` instead: queued until `queuedSeconds`
 * after creation, then running with progress rising in proportion to the time since (1…95, 99 at
 * the end), then the outcome (`mid-run` outcomes halfway through the running time). A test that
 * moves that clock (e.g. by each Wait the state machine asks for) simulates a task of any length
 * without waiting for it.
 *
 * Credits (prices from Tripo's skill): text-to-model H 10 untextured / 20 textured, P1 30/40, P2
 * 100/110; image/multiview H 20/30, P1 40/50, P2 100/110 (v3.0/v2.5 priced as v3.1); add-ons
 * texture_quality detailed +10, extreme +20, geometry_quality detailed +20, quad +5,
 * smart_low_poly +10, generate_parts +20; re-texture 10 standard or fast / 20 detailed / 30
 * extreme. Each key starts with `initialBalance`; a create freezes the price (or answers 403/2010),
 * success settles it (`credits_consumed` = price), any other end releases it (`credits_consumed` 0).
 *
 * Concurrency per key: 10 H-series generations, 5 P-series generations, 5 re-textures queued or
 * running; one more answers 429/2000 with `Retry-After`. A task stops counting once a poll has
 * seen it end, or 30 minutes after creation (real tasks finish unwatched).
 *
 * Faults (taken once per authorised API call — create, poll, list, upload, balance, usage — before
 * validation; downloads, unknown routes and rejected keys take none):
 * - `status` → that HTTP status with Tripo's body for it: 400/1004, 401/1002, 403/2010, 404/2001,
 *   405/1003, 415/1003, 429/2000 (with `Retry-After`), anything else code 1000. An `outcome` of
 *   four digits picks another code for the same status, e.g. `{status: 429, outcome: "1007"}`.
 * - `timeout` → no answer until the client disconnects.
 * - `moderated: true` → the next create that passes validation answers 400/2008.
 * - `outcome` → how the next created task (by this or a later create) ends:
 *   `success`; `failed` (error_code 1001) or `failed:<code>` halfway through its running polls —
 *   `failed:2008` is v3's moderation refusal, `failed:2018` v3's queue expiry (right after the
 *   queued polls); `cancelled` right after the queued polls; the legacy statuses `banned` (after
 *   all running polls), `expired` (after the queued polls) and `unknown` (halfway; not terminal, so
 *   no `completed_at`); `status:<word>` reports that word as the status halfway through the running
 *   polls and keeps it (e.g. `status:paused`, to test a client's handling of statuses Tripo does not
 *   document), except `status:queued` / `status:running` (the task never leaves that status) and
 *   `status:<documented or legacy status>` (same as that outcome). Any other value ends the task
 *   `failed` with error_code 1000 and a message naming the value.
 *
 * Webhooks (./tripo/webhooks.ts): with `tripoWebhookSettings.target` set (Tripo's console
 * setting: URL and `whsec_…` secret; the local stack points it at its own `/webhooks/tripo`), a
 * task that reaches a terminal state is announced by a signed POST (`task.completed` /
 * `task.failed`), and tasks follow a short real-time clock so they end without polls.
 * `flushTripoWebhooks()` sends what is due on the simulator clock now (tests that move it),
 * `tripoWebhookDeliveries()` lists what was sent, `tripoWebhookSettings.deliver = false` drops them.
 *
 * `tripoCalls()` lists every call answered since the last reset (method, path, endpoint template,
 * status), and `tripoEndpointOf` / `tripoEndpoints` name the endpoint of recorded requests, so tests
 * and the local stack can see which Tripo paths were called.
 */

export { pyramidFbx, pyramidGlb, retintGlb } from './tripo/meshes.ts';
export { tripoEndpointOf, tripoEndpoints, tripoSimulator } from './tripo/routes.ts';
export {
  resetTripoSandbox,
  setTripoClockTimeline,
  setTripoTimeline,
  type TripoCall,
  tripoCalls,
  tripoSandboxSettings,
} from './tripo/state.ts';
export {
  flushTripoWebhooks,
  nextTripoWebhookAt,
  type TripoWebhookDelivery,
  tripoWebhookDeliveries,
  tripoWebhookSettings,
} from './tripo/webhooks.ts';
