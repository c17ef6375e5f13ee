"""`make bench` (`.venv/bin/python -m bench`): nine performance measurements, each with its
target, PASS/FAIL, and a non-zero exit status when a target is missed. Not part of
`make test`.

1. imports   Cold import of each Lambda function's module (every AWS::Serverless::Function
             of template.yaml, one row per distinct CodeUri/handler module) against
             `import boto3`: fresh processes in `.venv-runtime` (layers/core/requirements.txt
             only), median of 7. Target: module/boto3 <= 1.5. A module over target gets an
             `-X importtime` breakdown.
2. lists     First page of GET /projects for a non-admin member of 100 projects vs one of
             10,000 (same table, plus other users' projects), through the emulated stack
             (tests.harness.emulated, moto in process), median of 15. Target: 10k/100 <= 1.2.
             The admin's first page (GSI1 PROJECTS) at both table sizes, for information.
3. calls     AWS API calls per request, per route, by operation: a scripted walk (bench/
             walk.py, the principals that normally call each route) on the small table, then
             every HttpApi route of template.yaml it did not visit from its sample event
             (bench/sampled.py: local/sample_events.py's request on local/seed.py's world, so
             a new route is walked without touching the bench); authorizer counted apart.
             GET requests are replayed on the 10k table (writes stay on small tables: see
             bench/emulated.py). Targets: every route walked; no Scan anywhere;
             the same calls at both sizes; list routes the same for 100 and 10k
             memberships; at most MAX_DYNAMODB_CALLS per request. Then, per route, the
             DynamoDB calls and read/write units at both sizes, computed from the items
             each call touched as DynamoDB bills them (bench/calls.py: moto's own
             ConsumedCapacity figures are fixed placeholders).
4. load      `make run` under load (bench/load.py): the runner as a subprocess on a free
             loopback port, 8 keep-alive client threads for 30 s mixing reads (GET
             /projects, /projects/{id}, /auth/me, /projects/{id}/history) and creates (POST
             /projects, POST /users by the admin). Targets: >= 100 requests/s, p99 < 250 ms,
             no error, the runner's RSS growing < 100 MiB. Also reported: the runner's CPU
             time per request, which does not depend on what else the machine runs.
5. pages     DynamoDB reads per page for each list filter (GET /projects as admin and as
             member with each filter and list option, memberships, members, invites,
             applications), with 100 and with 10,000 items in the list's partition, on
             fresh emulated stacks (bench/pages.py). Targets: a list whose filter an index
             serves reads only what it returns, one Query a page; every list stays within
             tenantry.pagination.MAX_READS_PER_PAGE Query calls a page; a list limited to
             one project by key (field_selector metadata.name=) makes no Query; the first
             page with each list option (field_selector, sort_by, filter_by), 10,000
             projects / 100, in CPU time, <= measurement 2's ratio (1.2).
6. recon     One reconciler run's AWS calls (bench/reconciler.py), with 10,000 closed
             operations in the table: none due, then 40 due (lost starts, overtaken
             operations). Targets: none due is one Query and nothing else; at most 4 calls
             per operation due, plus the Query pages.
7. claims    Agent claims (bench/claims.py) with 1,000 work items queued for one cluster,
             drained by 1 agent and by 8 agents at once (claim, then report Done):
             latency p50/p99 and items per second, reported; targets: every item handed
             out exactly once, at most 3.5 DynamoDB calls per claim (token read, one
             Query, one conditional UpdateItem per item, lost races), no Scan.
8. tasks     Deployment tasks (bench/tasks.py) through the local runner's HTTP server (in
             this process, so every AWS call is counted) with the test agent answering over
             HTTP: 60 deployments installed, then PATCHed at once by 4 clients (an Upgrade
             task each, run to Done), then 30 PATCHed one at a time. Targets: tasks/s in
             the burst; PATCH -> agent claim latency p50/p99 one at a time (the burst's,
             queueing included, reported); DynamoDB calls per task (PATCH, the state
             machine's steps, the agent's claim and result; claims that found nothing
             apart). Each target's reason is printed with it.
9. events    Lifecycle event delivery over the WebSocket (bench/realtime.py): `make run` as a
             subprocess, a project's owner changes it 100 times, one at a time, while 10
             connections listen (the owner, an admin, 8 members): change (PATCH sent) ->
             message, to the owner and to the last listener, p50/p99, every listener
             getting every change once, in order. Targets: p50 <= 500 ms, p99 <= 1 s to
             the last listener (locally the stream poller looks every 0.25 s at most).

Seeding writes project + member items straight into the table with batch_writer: the items
tenantry.domain.projects.create_project builds (keys from tenantry.dal.keys), see
bench/seed.py.
"""
