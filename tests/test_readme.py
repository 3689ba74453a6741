"""The README's Python example runs as written and learns."""

import re

from support.paths import README


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_api_example_trains(capsys):
    (example,) = [b for b in _python_blocks() if "tgraph.Trainer" in b]
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    result = namespace["model"].evaluate(namespace["data"].test.x, namespace["data"].test.y)
    assert result["error"] < 0.2  # softmax regression after 5 epochs of Adam: ~11%
    assert "'error'" in capsys.readouterr().out


def test_spec_example_is_the_mlp_spec_file():
    (example,) = [b for b in _python_blocks() if b.startswith("# specs/mlp.py")]
    spec = (README.parent / "specs" / "mlp.py").read_text(encoding="utf-8")
    code_lines = [line for line in example.splitlines()[1:] if line.strip()]
    missing = [line for line in code_lines if line not in spec]
    assert not missing, f"README's spec example differs from specs/mlp.py: {missing}"
