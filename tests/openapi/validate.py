"""validate: HTTP answers checked against schema/openapi.yaml (OpenAPI 3.1).

Used by tests/integration/orgdtest.py's req() on every answer the integration tests
receive, and by tests/integration/test_openapi.py. Needs Debian's python3-jsonschema (JSON
Schema Draft 2020-12, the dialect of OpenAPI 3.1) and python3-yaml, modules of Debian's
/usr/bin/python3 (scripts/test runs the integration tests with it).

    doc = Document("schema/openapi.yaml")
    problems = doc.check("GET", "/v1/org/projects/prj_x?limit=5", 200, headers, raw_body)

check() finds the operation by method and path (the path matched against the document's
path templates, an {id} matching one non-empty segment; HEAD as GET without the body) and
then the response by status, and returns a list of problems (empty: valid):

- an undeclared status of the operation;
- a body where the response declares none, or none (or not JSON) where it declares one;
- a Content-Type the response does not declare;
- a header the response declares required (WWW-Authenticate on 401, Allow on 405) missing;
- a JSON body the response's schema refuses (an undeclared field, a wrong type, a value
  out of its enum or range: every answer object is `additionalProperties: false`).

A path of the document with a method it does not list must answer 405 as
components/responses/MethodNotAllowed says. A path the document does not have at all
(/v1/nope, a malformed path), or a method nginx refuses itself on any path (TRACE), must
answer an error: a status of 400 or more and, if it has a body, components/schemas/Error;
such answers are counted apart (`outside`).
"""

import copy
import json
import os
import re

try:
    import yaml
    try:
        _Loader = yaml.CSafeLoader
    except AttributeError:
        _Loader = yaml.SafeLoader
except ImportError as e:  # pragma: no cover - reported by the caller
    yaml = None
    _yaml_error = e

try:
    import jsonschema
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
except ImportError as e:  # pragma: no cover - reported by the caller
    jsonschema = None
    _jsonschema_error = e

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCUMENT = os.path.join(REPO, "schema", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# methods nginx answers itself before any location (405, with no Allow: it does not know the
# path's methods), whatever the path: requests outside the document, checked as errors
NGINX_REFUSES = {"TRACE", "CONNECT"}


class Unavailable(Exception):
    """The validator cannot run here (a module missing: not Debian's /usr/bin/python3?)."""


def require_modules():
    """Raises Unavailable naming what is missing and why."""
    import sys
    missing = []
    if jsonschema is None:
        missing.append(f"jsonschema ({_jsonschema_error})")
    if yaml is None:
        missing.append(f"yaml ({_yaml_error})")
    if missing:
        raise Unavailable(
            f"{', '.join(missing)} not importable by {sys.executable}: run the integration "
            "tests with Debian's /usr/bin/python3 (as scripts/test does); scripts/install-deps "
            "installs python3-jsonschema and python3-yaml")


def _pointer(doc, ref):
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


_ANNOTATIONS = {"description", "title", "summary", "examples", "example", "deprecated"}


def _inline(doc, node, seen=()):
    """node with every local $ref replaced by (a copy of) its target; siblings of a $ref
    (OpenAPI 3.1 allows e.g. a description beside it) are kept."""
    if isinstance(node, dict):
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            if ref in seen:
                raise ValueError(f"a $ref cycle through {ref}")
            target = _inline(doc, _pointer(doc, ref), seen + (ref,))
            rest = {k: _inline(doc, v, seen) for k, v in node.items() if k != "$ref"}
            if not rest:
                return copy.deepcopy(target)
            if isinstance(target, dict) and not (set(rest) & set(target)) - _ANNOTATIONS:
                return {**copy.deepcopy(target), **rest}  # a description beside it, say
            return {"allOf": [copy.deepcopy(target)], **rest}
        return {k: _inline(doc, v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(doc, v, seen) for v in node]
    return node


def _media_type(content_type):
    return (content_type or "").split(";", 1)[0].strip().lower()


def _where(error):
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "$" + path


class Document:
    """schema/openapi.yaml, loaded once, with a compiled validator per response."""

    def __init__(self, path=DOCUMENT):
        require_modules()
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.raw = yaml.load(f, Loader=_Loader)
        if not str(self.raw.get("openapi", "")).startswith("3.1"):
            raise ValueError(f"{path}: not an OpenAPI 3.1 document")
        self.paths = {}
        for template, item in self.raw["paths"].items():
            self.paths[template] = _inline(self.raw, item)
        # literal segments before templated ones: /a/b wins over /a/{id}
        self._order = sorted(self.paths, key=lambda t: (t.count("{"), t))
        self._templates = {t: [s for s in t.split("/")] for t in self.paths}
        self._validators = {}
        self.method_not_allowed = _inline(self.raw, self.raw["components"]["responses"]["MethodNotAllowed"])
        self.error_schema = _inline(self.raw, self.raw["components"]["schemas"]["Error"])
        fc = getattr(Draft202012Validator, "FORMAT_CHECKER", None)
        if fc is None:
            fc = jsonschema.draft202012_format_checker
        self._format_checker = fc
        Draft202012Validator.check_schema(self.error_schema)

    # --- the document's routes ----------------------------------------------------------
    def operations(self):
        """[(METHOD, template, operation)] of every operation of the document."""
        out = []
        for template, item in self.paths.items():
            for m in METHODS:
                if m in item:
                    out.append((m.upper(), template, item[m]))
        return out

    def match(self, path):
        """The document's path template that the raw path (no query) matches, or None."""
        segs = path.split("/")
        for t in self._order:
            ts = self._templates[t]
            if len(ts) != len(segs):
                continue
            if all(a == b or (a.startswith("{") and a.endswith("}") and b != "")
                   for a, b in zip(ts, segs)):
                return t
        return None

    # --- checking an answer -------------------------------------------------------------
    def _validator(self, key, schema):
        v = self._validators.get(key)
        if v is None:
            v = Draft202012Validator(schema, format_checker=self._format_checker)
            self._validators[key] = v
        return v

    def find(self, method, path):
        """(template, operation, response-lookup kind): kind is "operation", "method"
        (a path of the document, a method it does not list) or "outside"."""
        path = path.split("?", 1)[0].split("#", 1)[0]
        template = self.match(path)
        if template is None or method.upper() in NGINX_REFUSES:
            return None, None, "outside"
        item = self.paths[template]
        m = method.lower()
        if m == "head" and "head" not in item:
            m = "get"
        op = item.get(m)
        if op is None:
            return template, None, "method"
        return template, op, "operation"

    def check(self, method, path, status, headers, body):
        """Problems of one answer (a list of strings; empty when it is valid), and the kind
        of check made: returns (problems, kind)."""
        template, op, kind = self.find(method, path)
        head = method.upper() == "HEAD"
        get = headers.get if hasattr(headers, "get") else (lambda k, d=None: d)
        ctype = _media_type(get("Content-Type"))
        if kind == "outside":
            problems = []
            if status < 400:
                problems.append(f"status {status} for a path the document does not have")
            if body and not head:
                problems += self._check_body(("outside", "Error"), self.error_schema,
                                             "application/json", ctype, body)
            return problems, kind
        if kind == "method":
            name = f"{method} {template} (a method the path does not take)"
            if status != 405:
                return [f"{name}: status {status}, the document says 405"], kind
            response = self.method_not_allowed
            key = ("405", template)
        else:
            name = f"{method} {template} ({op.get('operationId', '?')})"
            response = op.get("responses", {}).get(str(status))
            if response is None:
                declared = ", ".join(sorted(op.get("responses", {})))
                return [f"{name}: status {status} is not declared (declared: {declared})"], kind
            key = (op.get("operationId"), str(status))
        problems = []
        for hname, h in (response.get("headers") or {}).items():
            if h.get("required") and get(hname) is None:
                problems.append(f"{name} {status}: no {hname} header")
        content = response.get("content")
        if not content:
            if body:
                problems.append(f"{name} {status}: a body where the document declares none: "
                                f"{body[:200]!r}")
            return problems, kind
        if ctype not in content:
            if not (head and not ctype and not body):
                problems.append(f"{name} {status}: Content-Type {get('Content-Type')!r}, "
                                f"the document says {', '.join(content)}")
                return problems, kind
        if head:
            if body:
                problems.append(f"{name} {status}: a body in the answer to HEAD")
            return problems, kind
        media = content.get(ctype) or next(iter(content.values()))
        schema = media.get("schema")
        if schema is None:
            return problems, kind
        problems += [f"{name} {status}: {p}"
                     for p in self._check_body(key, schema, ctype, ctype, body)]
        return problems, kind

    def _check_body(self, key, schema, declared, ctype, body):
        if declared != "application/json":
            if declared != ctype:
                return [f"Content-Type {ctype!r}, want {declared}"]
            if schema.get("type") == "string":
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError:
                    return ["a body that is not UTF-8 text"]
            return []
        if ctype != "application/json":
            return [f"Content-Type {ctype!r}, want application/json"]
        if not body:
            return ["no body, the document declares a JSON one"]
        try:
            value = json.loads(body)
        except ValueError as e:
            return [f"a body that is not JSON ({e}): {body[:200]!r}"]
        v = self._validator(key, schema)
        errors = list(v.iter_errors(value))
        if not errors:
            return []
        e = best_match(errors)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        text = json.dumps(value, separators=(",", ":"))
        return [f"at {_where(e)}: {e.message}{more}; body {text[:300]}"]


_ID_SEGMENT = re.compile(r"\{[^}/]+\}")


def route_key(method, template):
    """(METHOD, template with every {name} as {id}): how routes.c spells a route."""
    return method.upper(), _ID_SEGMENT.sub("{id}", template)


def routes_c(path=None):
    """{(METHOD, pattern)} of every route of src/http/routes.c."""
    path = path or os.path.join(REPO, "src", "http", "routes.c")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = re.findall(r'\{\s*M_(GET|POST|PUT|PATCH|DELETE)\s*,\s*"(/[^"]*)"', text)
    return {(m, p) for m, p in found}


if __name__ == "__main__":
    # python3 tests/openapi/validate.py: the document's operations, one a line
    import sys
    d = Document(sys.argv[1] if len(sys.argv) > 1 else DOCUMENT)
    for m, t, op in sorted(d.operations(), key=lambda x: (x[1], x[0])):
        print(f"{m:6} {t:40} {op.get('operationId', '')}  {' '.join(sorted(op['responses']))}")
