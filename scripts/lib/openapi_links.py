"""Adds OpenAPI `links` to the gateway's document for schemathesis's stateful run
(scripts/test_schemathesis.sh): what one operation creates, the next reads, changes and
deletes, so sequences like create session -> append message -> activate -> export -> delete
are exercised with real ids, not only random ones.

  openapi_links.py IN OUT      writes OUT: IN with the links below (IN is not changed)
"""

import json
import sys

# (source operationId, status) -> {link name: (target operationId, {parameter: expression})}
LINKS = {
    ("create_session", "201"): {
        "GetSession": ("get_session", {"id": "$response.body#/id"}),
        "UpdateSession": ("update_session", {"id": "$response.body#/id"}),
        "ExportSession": ("export_session", {"id": "$response.body#/id"}),
        "AppendMessage": ("append_message", {"id": "$response.body#/id"}),
        "StopGeneration": ("stop_generation", {"id": "$response.body#/id"}),
        "DeleteSession": ("delete_session", {"id": "$response.body#/id"}),
    },
    ("append_message", "201"): {
        "ActivateMessage": ("activate_message", {"id": "$response.body#/session_id", "message_id": "$response.body#/id"}),
        "MessageVersions": ("message_versions", {"id": "$response.body#/session_id", "message_id": "$response.body#/id"}),
        "GetSession": ("get_session", {"id": "$response.body#/session_id"}),
    },
    ("submit_job", "202"): {
        "GetJob": ("get_job", {"job_id": "$response.body#/id"}),
        "CancelJob": ("cancel_job", {"job_id": "$response.body#/id"}),
    },
    ("create_key", "201"): {
        "RevokeKey": ("revoke_key", {"id": "$response.body#/id"}),
    },
    ("create_collection", "201"): {
        "GetCollection": ("get_collection", {"collection_id": "$response.body#/id"}),
        "UpdateCollection": ("update_collection", {"collection_id": "$response.body#/id"}),
        "DeleteCollection": ("delete_collection", {"collection_id": "$response.body#/id"}),
    },
}


def main(src, dest):
    doc = json.load(open(src))
    by_id = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and "operationId" in op:
                by_id[op["operationId"]] = op
    added = 0
    for (source, status), links in LINKS.items():
        # A renamed operation must fail here, not silently test less.
        response = by_id[source]["responses"][status]
        for name, (target, parameters) in links.items():
            assert target in by_id, f"no operation {target}"
            response.setdefault("links", {})[name] = {"operationId": target, "parameters": parameters}
            added += 1
    json.dump(doc, open(dest, "w"))
    print(f"{added} links")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
