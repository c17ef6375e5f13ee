"""The Tenantry cluster agent: pulls work from Tenantry's agent API with the cluster's agent
token, does it in its cluster and reports back. Nothing here calls Tenantry's other routes.

Modules: `client` (the HTTP protocol), `loop` (heartbeat, claim, lease keeping, results,
shutdown), `executor` (the interface the loop drives, and how a work item becomes calls of
it), `cluster` (the real executor) made of `kube` (namespaces, deployers, restarts), `helm`
(the helm binary) and `actions` (chart actions over HTTP), `dryrun` (logs instead of
acting), `cli` (the `tenantry-agent` command), `local` (start a dry-run agent process from
`make run`; standard library only).
"""

__version__ = "0.1.0"
