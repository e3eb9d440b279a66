"""A static check of every module of the package's source (src/pytest_rnnbench, read with ast):
nothing unpickles, evaluates strings or hands a command to a shell."""

from __future__ import annotations

import ast

from helpers import PACKAGE


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def test_the_package_never_unpickles_evaluates_or_uses_a_shell() -> None:
    forbidden_modules = {"pickle", "cPickle", "marshal", "shelve", "dill", "yaml", "cloudpickle"}
    forbidden_calls = {
        "eval",
        "exec",
        "compile",
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "pd.read_pickle",
        "np.fromfile",
    }
    launches = {
        "subprocess.Popen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
    }
    problems, launched = [], 0
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if forbidden_modules & {n.split(".")[0] for n in names}:
                    problems.append(f"{source.name}:{node.lineno}: imports {names}")
        for node, name in _calls(tree):
            where = f"{source.name}:{node.lineno}: {name}"
            if name in forbidden_calls:
                problems.append(where)
            keywords = {k.arg: k.value for k in node.keywords}
            if "shell" in keywords and not (
                isinstance(keywords["shell"], ast.Constant) and keywords["shell"].value is False
            ):
                problems.append(f"{where} with shell=")
            if name in launches:
                launched += 1
                if not node.args or not isinstance(node.args[0], (ast.List, ast.Tuple)):
                    problems.append(f"{where}: the command is not a literal argument list")
            if (
                name.endswith("load")
                and "allow_pickle" in keywords
                and not (
                    isinstance(keywords["allow_pickle"], ast.Constant)
                    and keywords["allow_pickle"].value is False
                )
            ):
                problems.append(f"{where} with allow_pickle")
    assert problems == []
    assert launched >= 3  # the worker, the backend probe, git: the check saw them
