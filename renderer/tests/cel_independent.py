"""Evaluates `kiln policy` output with Google's CEL runtime (cel-expr-python), independently
of kiln's own CEL implementation, as the API server evaluates a ValidatingAdmissionPolicy.

stdin:  {"policies": [policy and binding objects], "cases": [{"label": ..., "object": ...}]}
stdout: {"LABEL": [{"action": "Deny"|"Warn", "message": ...} | {"error": ...}], ...}

The Kubernetes library functions the rules use and the CEL C++ runtime lacks (quantity,
isQuantity, the quantity comparisons and the regex `find`) are provided here, after the
Kubernetes definitions. Needs `pip install cel-expr-python`.
"""

import json
import re
import sys
from fractions import Fraction

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

SUFFIXES = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)


def parse_quantity(text):
    """A Kubernetes resource.Quantity as an exact fraction, or None."""
    match = QUANTITY.match(text)
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return Fraction(number) * Fraction(10) ** int(suffix[1:])
    return Fraction(number) * SUFFIXES[suffix]


def quantity(text):
    value = parse_quantity(text)
    if value is None:
        raise ValueError(f"invalid quantity {text!r}")
    # A quantity travels as its canonical text; comparisons parse it again.
    return f"{value.numerator}/{value.denominator}"


def compare(a, b):
    return (Fraction(a) > Fraction(b)) - (Fraction(a) < Fraction(b))


def find(text, pattern):
    match = re.search(pattern, text)
    return match.group(0) if match else ""


S, B, I = cel.Type.STRING, cel.Type.BOOL, cel.Type.INT
FUNCTIONS = [
    ("quantity", [S], False, quantity, S),
    ("isQuantity", [S], False, lambda t: parse_quantity(t) is not None, B),
    ("isGreaterThan", [S, S], True, lambda a, b: compare(a, b) > 0, B),
    ("isLessThan", [S, S], True, lambda a, b: compare(a, b) < 0, B),
    ("compareTo", [S, S], True, compare, I),
    ("find", [S, S], True, find, S),
]


def environment():
    declarations = [
        cel.FunctionDecl(name, [cel.Overload(f"{name}_{len(params)}", ret, params, member, impl)])
        for name, params, member, impl, ret in FUNCTIONS
    ]
    return cel.NewEnv(
        variables={"object": cel.Type.DYN, "variables": cel.Type.DYN},
        extensions=[ext_strings.ExtStrings()],
        functions=declarations,
    )


def evaluate(env, source, data):
    result = env.compile(source).eval(data=data)
    if result.type() == cel.Type.ERROR:
        raise RuntimeError(str(result.plain_value()))
    return result.plain_value()


def main():
    request = json.load(sys.stdin)
    env = environment()
    actions = {
        b["spec"]["policyName"]: b["spec"]["validationActions"][0]
        for b in request["policies"]
        if b["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    policies = [p for p in request["policies"] if p["kind"] == "ValidatingAdmissionPolicy"]
    results = {}
    for case in request["cases"]:
        obj = case["object"]
        group, _, version = obj["apiVersion"].rpartition("/")
        found = []
        for policy in policies:
            rule = policy["spec"]["matchConstraints"]["resourceRules"][0]
            if rule["apiGroups"] != [group] or case["resource"] not in rule["resources"]:
                continue
            variables = {}
            for variable in policy["spec"].get("variables", []):
                try:
                    variables[variable["name"]] = evaluate(
                        env, variable["expression"], {"object": obj, "variables": variables}
                    )
                except Exception as error:  # an unusable variable fails what reads it
                    found.append({"error": f"variable {variable['name']}: {error}"})
            data = {"object": obj, "variables": variables}
            for validation in policy["spec"]["validations"]:
                try:
                    verdict = evaluate(env, validation["expression"], data)
                except Exception as error:
                    found.append({"error": f"{validation['expression'][:80]}: {error}"})
                    continue
                if verdict is True:
                    continue
                if "messageExpression" in validation:
                    message = evaluate(env, validation["messageExpression"], data)
                else:
                    message = validation["message"]
                found.append({"action": actions[policy["metadata"]["name"]], "message": message})
        results[case["label"]] = found
    json.dump(results, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
