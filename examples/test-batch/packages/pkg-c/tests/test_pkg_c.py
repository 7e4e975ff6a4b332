def test_pkg_c_adds():
    assert 1 + 1 == 2


def test_pkg_c_joins():
    assert "-".join(["pkg", "c"]) == "pkg-c"
