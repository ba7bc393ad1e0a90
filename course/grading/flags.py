"""Review flags: what a student cell reaches for, read from its syntax tree rather than its text.

Comments and ordinary words do not count (a comment saying "solutions" is not a flag), while strings built from
pieces do (``"pr" + "oc"`` is ``"proc"``). Flags are for the instructor; they never change points. Code that
builds names at run time (``base64``, ``chr``) still escapes a static reading: the sandbox, not the flags, is what
stops harm.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

# attribute or imported name -> why it is worth a look
ATTRIBUTES = {
    "input_transformers_cleanup": "registers an IPython input transformer",
    "input_transformers_post": "registers an IPython input transformer",
    "input_transformers": "registers an IPython input transformer",
    "ast_transformers": "registers an IPython AST transformer",
    "set_custom_exc": "installs a custom exception handler",
    "register_magic_function": "registers a magic",
    "register_magic": "registers a magic",
    "settrace": "installs a trace function",
    "setprofile": "installs a trace function",
    "meta_path": "edits the import machinery",
    "path_hooks": "edits the import machinery",
    "modules": "edits sys.modules",
    "environ": "reads or edits environment variables",
    "getenv": "reads or edits environment variables",
    "reload": "reloads modules",
    "__import__": "touches builtins",
    "__builtins__": "touches builtins",
}
MODULES = {
    "builtins": "touches builtins",
    "ctypes": "uses ctypes",
    "importlib": "uses importlib",
    "gc": "walks the garbage collector's objects",
    "inspect": "inspects frames or source",
}
STRINGS = {
    "/proc": "reads /proc",
    "solution": "mentions the solutions",
    "input_transformers": "registers an IPython input transformer",
    "__import__": "touches builtins",
    "environ": "reads or edits environment variables",
    "modules": "edits sys.modules",
}
PATCHABLE_ROOTS = {"keras", "tf", "tensorflow", "np", "numpy", "toolkit", "checks", "sys", "builtins", "IPython"}


def _string(node: ast.AST) -> str | None:
    """The value of a string expression made only of constants (``"a" + "b"``, f-strings of constants)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string(node.left), _string(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = [_string(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
        return "".join(p for p in parts if p is not None) if all(p is not None for p in parts) else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and node.args
        and isinstance(node.args[0], ast.List | ast.Tuple)
    ):
        sep = _string(node.func.value)
        parts = [_string(e) for e in node.args[0].elts]
        if sep is not None and all(p is not None for p in parts):
            return sep.join(p for p in parts if p is not None)
    return None


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _patches(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and _root(target.value) in PATCHABLE_ROOTS:
                root = _root(target.value)
                yield "replaces check helpers" if root == "checks" else f"patches {root} (assigns {target.attr})"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and node.args:
            root = _root(node.args[0])
            if root in PATCHABLE_ROOTS or root == "toolkit":
                yield "replaces check helpers" if root in ("checks", "toolkit") else f"patches {root} (setattr)"
        if isinstance(node, ast.FunctionDef) and node.name == "__eq__":
            yield "defines __eq__ (answers should be plain values)"


def _parse(source: str) -> ast.AST | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        python = TransformerManager().transform_cell(source)  # magics and shell escapes become calls
    except Exception:  # noqa: BLE001  (IPython raises many kinds of errors on odd input)
        python = source
    try:
        return ast.parse(python)
    except (SyntaxError, ValueError):
        return None


def scan(source: str) -> list[str]:
    """Why ``source`` (one cell) is worth a look, in plain words; empty for ordinary code."""
    tree = _parse(source)
    if tree is None:
        return ["could not be parsed as Python, so it was not checked for suspicious calls"]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
            found.append(ATTRIBUTES[node.attr])
        elif isinstance(node, ast.Attribute) and node.attr == "path" and _root(node.value) == "sys":
            found.append("edits the import path (sys.path)")
        elif isinstance(node, ast.Name) and node.id in ATTRIBUTES:
            found.append(ATTRIBUTES[node.id])
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [MODULES[n.split(".")[0]] for n in names if n and n.split(".")[0] in MODULES]
            found += [ATTRIBUTES[a.name] for a in node.names if a.name in ATTRIBUTES]
        text = _string(node)
        if text is not None:
            found += [why for needle, why in STRINGS.items() if needle in text.lower()]
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr == "register" and getattr(func.value, "attr", "") == "events":
            found.append("registers an IPython event hook")
    found += _patches(tree)
    return list(dict.fromkeys(found))
