def test_pkg_a_adds():
    assert 1 + 1 == 2


def test_pkg_a_joins():
    assert "-".join(["pkg", "a"]) == "pkg-a"
