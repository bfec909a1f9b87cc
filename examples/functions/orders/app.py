"""An order service function for the Secure Compute example: it runs in the platform
VPC and queries the customer's private PostgreSQL across the VPC peering (never the
internet). The database sees the function's own private address."""

import os

import pg8000.native  # provided in cove's Python runtime directory (/opt/python)


def handler(event, context):
    conn = pg8000.native.Connection(
        user=os.environ.get("DB_USER", "postgres"),
        host=os.environ["DB_HOST"],
        port=int(os.environ.get("DB_PORT", "5432")),
        database=os.environ.get("DB_NAME", "postgres"),
        timeout=5,
    )
    try:
        [[client, server_time]] = conn.run("SELECT host(inet_client_addr()), now()::text")
    finally:
        conn.close()
    return {
        "function": context.function_name,
        "request_id": context.aws_request_id,
        "database_sees_me_as": client,
        "database_time": server_time,
        "event": event,
    }
