"""The OpenAPI document describes every operation (a summary each) and the endpoints of the
key ceremony, the shuffles, the schedules and the one-time codes with their models."""

from __future__ import annotations

from support.web import Served

NEW = {
    ("/api/v1/elections/{uuid}/ceremony", "get"): "CeremonyModel",
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/cert", "put"): "CeremonyModel",
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/polynomial", "put"): "CeremonyModel",
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/voutput", "put"): "CeremonyModel",
    ("/api/v1/elections/{uuid}/ceremony/certs.jsons", "get"): None,
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/vinput", "get"): None,
    ("/api/v1/elections/{uuid}/ceremony/threshold.json", "get"): None,
    ("/api/v1/elections/{uuid}/trustees/{n}/shuffle", "post"): "Count",
    ("/api/v1/elections/{uuid}/shuffles/end", "post"): "Count",
    ("/api/v1/elections/{uuid}/schedule", "put"): "ScheduleAnswer",
    ("/api/v1/elections/{uuid}/schedule", "get"): "ScheduleAnswer",
    ("/api/v1/elections/{uuid}/codes", "post"): "CodeSent",
    ("/api/v1/elections/{uuid}/draft", "get"): "DraftModel",
}
BODIES = {
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/cert", "put"),
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/polynomial", "put"),
    ("/api/v1/elections/{uuid}/ceremony/trustees/{n}/voutput", "put"),
    ("/api/v1/elections/{uuid}/schedule", "put"),
    ("/api/v1/elections/{uuid}/codes", "post"),
}


def test_openapi_documents_the_lifecycle(served: Served) -> None:
    doc = served.client.get("/api/v1/openapi.json").json()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert op.get("summary"), (path, method)
    for (path, method), model in NEW.items():
        op = doc["paths"][path][method]
        ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
        if model is not None:
            ref = ok["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{model}", (path, ref)
            assert model in doc["components"]["schemas"]
        assert {"401", "404", "409", "422"} <= set(op["responses"]), (path, method)
        if (path, method) in BODIES:
            assert "application/json" in op["requestBody"]["content"], (path, method)
    detail = doc["components"]["schemas"]["ElectionDetail"]["properties"]
    assert detail["schedule"]["$ref"] == "#/components/schemas/ScheduleModel"
    answer = doc["components"]["schemas"]["ScheduleAnswer"]["properties"]
    assert {"open", "close", "failed"} <= set(answer)
    assert {"code", "message", "at", "attempts", "retry"} <= set(
        doc["components"]["schemas"]["ScheduleFailure"]["properties"]
    )
    assert "opens" in doc["components"]["schemas"]["ErrorBody"]["properties"]
    rows = doc["components"]["schemas"]["ResultRow"]["properties"]
    assert "ballots" in rows
