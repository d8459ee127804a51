"""tools/mpy_compile.py (the `compile` lane) must report files that mpy-cross rejects."""

from tools import mpy_compile


def test_good_tree_compiles(tmp_path):
    src = tmp_path / "pkg"
    (src / "sub").mkdir(parents=True)
    (src / "a.py").write_text("from micropython import const\n_X = const(3)\nY = _X + 1\n")
    (src / "sub" / "b.py").write_text("def f(n):\n    return n // 2\n")
    out = tmp_path / "out"
    count, failures = mpy_compile.compile_tree([src], out)
    assert failures == []
    assert count == 2
    assert (out / "pkg" / "a.mpy").read_bytes()[:1] == b"M"  # .mpy magic
    assert (out / "pkg" / "sub" / "b.mpy").is_file()


def test_bad_file_is_reported(tmp_path, capsys):
    src = tmp_path / "boards"
    src.mkdir()
    (src / "ok.py").write_text("X = 1\n")
    (src / "broken.py").write_text("def f(:\n    pass\n")
    out = tmp_path / "out"

    count, failures = mpy_compile.compile_tree([src], out)
    assert count == 1
    assert [p.name for p, _ in failures] == ["broken.py"]
    assert "SyntaxError" in failures[0][1]

    assert mpy_compile.main([str(src), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "broken.py" in captured.err and "SyntaxError" in captured.err
    assert "compiled 1 files, 1 FAILED" in captured.out


def test_micropython_only_errors_are_caught(tmp_path):
    """mpy-cross rejects code that CPython accepts (`match` does not exist in
    MicroPython), so this lane checks something the CPython tests cannot."""
    src = tmp_path / "fw"
    src.mkdir()
    code = "def f(x):\n    match x:\n        case 1:\n            return 2\n"
    compile(code, "bad.py", "exec")  # fine for CPython
    (src / "bad.py").write_text(code)
    count, failures = mpy_compile.compile_tree([src], tmp_path / "out")
    assert count == 0 and len(failures) == 1
    assert "SyntaxError" in failures[0][1]


def test_stale_outputs_are_removed(tmp_path):
    src = tmp_path / "fw"
    src.mkdir()
    (src / "keep.py").write_text("X = 1\n")
    out = tmp_path / "out"
    (out / "fw").mkdir(parents=True)
    (out / "fw" / "gone.mpy").write_bytes(b"M")
    mpy_compile.compile_tree([src], out)
    assert (out / "fw" / "keep.mpy").is_file()
    assert not (out / "fw" / "gone.mpy").exists()


def test_the_firmware_has_no_assert_statements():
    """The board build (-O3, mpy_compile.BOARD_ARGS) compiles assert statements away, so a
    check written as an assert would run on the host and vanish on the board."""
    import ast

    found = []
    for folder in ("firmware", "boards"):
        for path in mpy_compile.source_files(mpy_compile.REPO_ROOT / folder):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += ["%s:%d" % (path.name, n.lineno) for n in ast.walk(tree)
                      if isinstance(n, ast.Assert)]
    assert found == []


def test_board_bytecode_names_file_and_function_but_not_the_line(tmp_path):
    from tools.mpvm import run_micropython_code

    src = tmp_path / "optpkg"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "fails.py").write_text("X = 1\n\n\ndef deep():\n    return 1 // 0\n")
    code = ("import sys\nfrom optpkg import fails\ntry:\n    fails.deep()\n"
            "except ZeroDivisionError as e:\n    sys.print_exception(e)\n")
    traces = {}
    for lines in (False, True):
        out = tmp_path / ("lines" if lines else "board")
        count, failures = mpy_compile.compile_tree([src], out,
                                                   extra_args=mpy_compile.board_args(lines))
        assert (count, failures) == (2, [])
        result = run_micropython_code(code, lib_dirs=[str(out / "optpkg")])
        traces[lines] = result
    assert 'fails.py", line 5, in deep' in traces[True]
    assert "in deep" in traces[False] and "line 5" not in traces[False]
