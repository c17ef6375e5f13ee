// Which project actions to offer. A project carries no allowed_actions (memberships do:
// the console shows exactly theirs), so this mirrors the lifecycle of
// layers/core/tenantry/domain/lifecycle.py (a browser test compares the two tables):
// event -> [from statuses, who may ask]. The API stays the judge: anything refused comes
// back as a problem and is shown.

export const TRANSITIONS = {
  suspend: [["active"], "admin"],
  unsuspend: [["suspended"], "admin"],
  terminate: [["active", "suspended"], "admin"],
  reinstate: [["terminated"], "admin"],
  retry: [["failed", "active"], "owner"],
  approve: [["uninitialized"], "admin"],
  deny: [["uninitialized"], "admin"],
  cancel: [["uninitialized"], "applicant"],
  delete: [["uninitialized", "creating", "active", "suspended", "terminated", "failed"], "owner"],
};

function namespacesFailed(project) {
  return (project.conditions || []).some((c) => c.type === "NamespacesReady" && c.status === "False");
}

// The actions (POST /projects/{id}/actions, plus "delete") the caller may ask for now.
// me: GET /auth/me; role: the caller's role in the project (or null).
export function projectActions(project, me, role) {
  const isAdmin = Boolean(me && me.is_admin);
  const isOwner = Boolean(me && (project.owner_id === me.id || role === "owner"));
  const app = project.last_application;
  const isApplicant = Boolean(me && app && app.applicant_id === me.id && app.state === "pending");
  const out = [];
  for (const [event, [from, who]] of Object.entries(TRANSITIONS)) {
    if (!from.includes(project.status)) continue;
    if (event === "retry" && project.status === "active" && !namespacesFailed(project)) continue;
    const allowed =
      isAdmin || (who === "owner" && isOwner) || (who === "applicant" && isApplicant);
    if (allowed) out.push(event);
  }
  // A denied application of a live project is the applicant's to dismiss.
  if (me && app && app.state === "denied" && app.applicant_id === me.id && project.status !== "deleted") {
    out.push("dismiss");
  }
  return out;
}
