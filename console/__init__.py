"""The web console: static files served by the API at /console; a client of the GraphQL API only."""
