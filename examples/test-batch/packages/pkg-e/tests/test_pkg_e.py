def test_pkg_e_adds():
    assert 1 + 1 == 2


def test_pkg_e_joins():
    assert "-".join(["pkg", "e"]) == "pkg-e"
