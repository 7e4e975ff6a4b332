def test_pkg_d_adds():
    assert 1 + 1 == 2


def test_pkg_d_joins():
    assert "-".join(["pkg", "d"]) == "pkg-d"
