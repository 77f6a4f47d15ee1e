"""GraphQL API (Strawberry): profiles behind the enforcement pipeline, admin mutations."""
