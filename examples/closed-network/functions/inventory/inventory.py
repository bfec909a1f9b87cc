"""The closed-network example's API function: reads the inventory from PostgreSQL
(in the `data` VPC, across the peering) for the private API's two routes,
`GET /items` and `GET /items/{id}` (API Gateway payload format 2.0)."""

import json
import os
from urllib.parse import urlparse

import pg8000.native  # in cove's python3.11 runtime directory


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, _context):
    dsn = urlparse(os.environ["DB_DSN"])
    item_id = (event.get("pathParameters") or {}).get("id")
    if item_id is not None and not item_id.isdigit():
        return answer(400, {"message": "the item id is a number"})
    conn = pg8000.native.Connection(
        user=dsn.username or "postgres",
        host=dsn.hostname,
        port=dsn.port or 5432,
        database=dsn.path.lstrip("/"),
        timeout=5,
    )
    try:
        if item_id is None:
            rows = conn.run("SELECT id, name, qty FROM items ORDER BY id")
            version = conn.run("SHOW server_version")[0][0]
            return answer(200, {
                "items": [{"id": r[0], "name": r[1], "qty": r[2]} for r in rows],
                "database": "PostgreSQL " + version,
            })
        rows = conn.run("SELECT id, name, qty FROM items WHERE id = :id", id=int(item_id))
        if not rows:
            return answer(404, {"message": "no item " + item_id})
        r = rows[0]
        return answer(200, {"id": r[0], "name": r[1], "qty": r[2]})
    finally:
        conn.close()
