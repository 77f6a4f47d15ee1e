"""Who is calling and what they may do: principals, casbin RBAC with workspaces as domains,
and the one enforcement pipeline every read and activation goes through."""
