"""The Shape of a plain command line without loading tree-sitter.

Loading the tree-sitter bindings costs more than the rest of the hook together, and most agent
commands are plain: `pytest -q tests/`, `npm run build 2>&1 | tail -20`, `make && make install`.
A line qualifies only when every token is either a word of unquoted safe characters, one of the
operators `|`, `&&`, `||`, `;` standing alone, or a harmless redirect (`2>&1`, `>/dev/null`, ...)
at the end of a command. Anything else (quotes, `$`, globs, `=`, comments, keywords, newlines)
returns None and goes to the real parser (so does `=` in a first word: an assignment). tests/hook/test_quickparse.py checks that both give
the same Shape for every line this accepts.
"""
from __future__ import annotations

from runq.hook.bashparse import Shape, SimpleCommand

_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+,-")
_OPERATORS = frozenset({"|", "&&", "||", ";"})
# token -> (operator, target) as bashparse reports the same redirect
_REDIRECTS = {
    "2>&1": (">&", "1"), "1>&2": (">&", "2"), ">&2": (">&", "2"), ">/dev/null": (">", "/dev/null"),
    "2>/dev/null": (">", "/dev/null"), "1>/dev/null": (">", "/dev/null"), "&>/dev/null": ("&>", "/dev/null"),
}
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case",
                       "esac", "function", "select", "time", "coproc", "in", "!", "{", "}", "[[", "]]",
                       # declarations parse as their own node types, not as commands
                       "export", "local", "declare", "readonly", "typeset", "unset"})


def parse(source: str) -> Shape | None:
    tokens = _tokens(source)
    if tokens is None or not tokens:
        return None
    shape = Shape(source)
    operators: list[str] = []
    current: list[tuple[str, int]] = []
    redirects: list[tuple[str, str | None]] = []
    for token, start in tokens:
        if token in _OPERATORS:
            if not current:
                return None
            _add(shape, current, redirects)
            operators.append(token)
            current, redirects = [], []
        elif token in _REDIRECTS:
            if not current:
                return None
            redirects.append(_REDIRECTS[token])
        elif redirects or not _plain_word(token, first=not current):
            return None  # a word after a redirect, or a word only the real parser can judge
        else:
            current.append((token, start))
    if not current:
        return None
    _add(shape, current, redirects)
    _mark_leading_cds(shape, operators)
    return shape


def _tokens(source: str) -> list[tuple[str, int]] | None:
    tokens: list[tuple[str, int]] = []
    index = 0
    length = len(source)
    while index < length:
        char = source[index]
        if char == " " or char == "\t":
            index += 1
            continue
        if char == "\n":
            return None
        start = index
        while index < length and source[index] not in " \t\n":
            index += 1
        tokens.append((source[start:index], start))
    return tokens


def _plain_word(token: str, first: bool) -> bool:
    if first:
        # a first word with `=` is an assignment; keywords open compound commands
        return token not in _KEYWORDS and not token.startswith("-") and all(char in _WORD_CHARS for char in token)
    return all(char in _WORD_CHARS or char == "=" for char in token)


def _add(shape: Shape, words: list[tuple[str, int]], redirects: list[tuple[str, str | None]]) -> None:
    start = words[0][1]
    end = words[-1][1] + len(words[-1][0])
    command = SimpleCommand([word for word, _ in words], [], shape.source[start:end], start, end, False,
                            [word for word, _ in words])
    command.redirects.extend(redirects)
    shape.commands.append(command)


def _mark_leading_cds(shape: Shape, operators: list[str]) -> None:
    if any(operator != "&&" for operator in operators):
        return
    leading = []
    for command in shape.commands[:-1]:
        if command.words[0] != "cd" or command.redirects:
            break
        leading.append(command)
    if leading:
        shape.wrap_start = shape.commands[len(leading)].start
        shape.leading_cds = {command.start for command in leading}
