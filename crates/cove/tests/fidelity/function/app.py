"""The function of the Lambda fidelity test (../driver.py): reports what its context
holds, fails or sleeps on request, and prints one FIDELITY line per invocation so the
driver can follow asynchronous invocations in `cove fn logs`."""

import json
import time


def handler(event, context):
    event = event if isinstance(event, dict) else {"event": event}
    op = event.get("op", "echo")
    print("FIDELITY " + json.dumps(
        {"op": op, "tag": event.get("tag"), "request_id": context.aws_request_id}), flush=True)
    if op == "fail":
        raise RuntimeError("failing on purpose: %s" % event.get("tag"))
    if op == "sleep":
        time.sleep(float(event["seconds"]))
    cc = context.client_context
    client = getattr(cc, "client", None) if cc is not None else None
    return {
        "op": op,
        "request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "client_context": None if cc is None else {
            "custom": getattr(cc, "custom", None),
            "env": getattr(cc, "env", None),
            "installation_id": getattr(client, "installation_id", None),
        },
    }
