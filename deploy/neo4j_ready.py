"""Wait until a freshly started local Neo4j answers on Bolt; set its password on first start."""

import os
import sys
import time

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

URI = os.environ["VEIL_NEO4J_URI"]
PASSWORD = os.environ["VEIL_NEO4J_PASSWORD"]
PID = int(os.environ["NEO4J_PID"])
DEADLINE = time.monotonic() + float(os.environ.get("NEO4J_START_TIMEOUT", "120"))


def alive() -> bool:
    """True while the server process exists."""
    try:
        os.kill(PID, 0)
    except OSError:
        return False
    return True


def try_connect(password: str) -> bool:
    """One connection attempt with the given password."""
    with neo4j.GraphDatabase.driver(URI, auth=("neo4j", password)) as driver:
        driver.verify_connectivity()
    return True


while time.monotonic() < DEADLINE:
    if not alive():
        sys.exit("Neo4j process exited during start-up")
    try:
        try_connect(PASSWORD)
        sys.exit(0)
    except AuthError:
        # A fresh store still has the initial neo4j/neo4j credentials: replace them.
        try:
            with neo4j.GraphDatabase.driver(URI, auth=("neo4j", "neo4j")) as driver:
                driver.execute_query(
                    "ALTER CURRENT USER SET PASSWORD FROM 'neo4j' TO $pw",
                    pw=PASSWORD,
                    database_="system",
                )
            continue
        except AuthError:
            sys.exit("Neo4j rejected both the configured and the initial password: this store was created "
                     "with another password. Provide it (VEIL_NEO4J_PASSWORD, or write it to "
                     "var/secrets/neo4j-password with mode 0600), or remove the instance's store under "
                     "var/neo4j/ to start empty")
    except (ServiceUnavailable, OSError):
        pass
    time.sleep(0.5)
sys.exit("timed out waiting for Neo4j")
