"""schemathesis hooks for scripts/test-openapi: rules the server enforces that JSON Schema cannot
state, taught to the generator of *schema-valid* cases only (a schema-violating case is left as
drawn). Each rule is also stated in the field's description in /openapi.json.
"""

import schemathesis
from schemathesis.generation import GenerationMode


def _positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _corporate_check_digit(base12: str) -> int:
    """T-1: 9 - (sum of Pn * Qn mod 9), Pn the n-th digit from the last, Qn 1 for odd n, 2 for even."""
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(base12)))
    return 9 - total % 9


@schemathesis.hook
def map_case(context, case):
    if not _positive(case) or not isinstance(case.body, dict):
        return case
    body = case.body
    # T-1: a 13-digit corporate number's first digit is the check digit of the other twelve.
    number = body.get("corporate_number")
    if isinstance(number, str) and len(number) == 13 and number.isascii() and number.isdigit():
        body["corporate_number"] = f"{_corporate_check_digit(number[1:])}{number[1:]}"
    # T-4: a user's ID never changes; an edit may repeat it (the path's) but not name another.
    if case.operation.path == "/admin/users/{id}" and case.method.upper() == "PATCH":
        if body.get("user_id") is not None and body.get("user_id") != (case.path_parameters or {}).get("id"):
            del body["user_id"]
    # T-1: a tenant without logistics has no shipping users. Whether a tenant has any is state
    # the schema cannot know, so a schema-valid edit keeps logistics on (turning it off is
    # exercised by the Rust tests) and shipping users can still be created in it.
    if case.operation.path == "/support/tenants/{code}" and case.method.upper() == "PATCH":
        if body.get("logistics") is False:
            del body["logistics"]
    return case
