def test_pkg_b_adds():
    assert 1 + 1 == 2


def test_pkg_b_joins():
    assert "-".join(["pkg", "b"]) == "pkg-b"
