"""Parse one bash command line with tree-sitter-bash into the facts the hook decides on.

The hook starts a fresh interpreter for every agent Bash call, so this module imports only
`os` and `sys` up front. tree-sitter is loaded on the first parse, and through its two
`_binding` extension modules directly: the packages' `__init__` files pull in `typing` and
`importlib.resources`, which cost more than the parser itself.

Records here are plain `__slots__` classes rather than dataclasses: `dataclasses` imports
`re` and `inspect`, a measurable share of the hook's whole budget.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Statements whose body runs in the current shell but that the hook treats as one opaque
# compound: their inner commands are still collected, marked nested.
_COMPOUND = frozenset({
    "subshell", "compound_statement", "for_statement", "c_style_for_statement", "while_statement",
    "if_statement", "case_statement", "function_definition", "negated_command",
})
_SUBSTITUTION = frozenset({"command_substitution", "process_substitution"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})


class ParserUnavailable(Exception):
    """tree-sitter or tree-sitter-bash is not installed where this interpreter can find it."""


class SimpleCommand:
    """One simple command: `FOO=1 make -j4 test > log`.

    `words` holds the literal argv after the assignments; a word with an expansion in it
    (`$x`, `$(...)`, a glob is still literal) is None. `nested` is true inside a subshell,
    group, loop, function body or substitution: such a command cannot change the caller's
    shell.
    """

    __slots__ = ("assignments", "end", "nested", "raw_words", "redirects", "start", "text", "words")

    def __init__(self, words: list[str | None], assignments: list[str], text: str, start: int,
                 end: int, nested: bool, raw_words: list[str] | None = None) -> None:
        self.words = words
        # each word as written, quotes and all: what Claude Code's rules are matched against
        self.raw_words = raw_words if raw_words is not None else []
        self.assignments = assignments
        self.redirects: list[tuple[str, str | None]] = []
        self.text = text
        self.start = start
        self.end = end
        self.nested = nested

    def __repr__(self) -> str:
        return f"SimpleCommand({self.words!r}, nested={self.nested})"


class Shape:
    """Everything the hook needs to know about one command line."""

    __slots__ = (
        "background",
        "commands",
        "comments",
        "compound",
        "compounds",
        "error",
        "functions",
        "heredoc",
        "leading_cds",
        "source",
        "substitution",
        "wrap_start",
    )

    def __init__(self, source: str) -> None:
        self.source = source
        self.commands: list[SimpleCommand] = []
        self.comments: list[str] = []
        self.background = False
        self.heredoc = False
        self.substitution = False
        self.compound = False
        self.compounds: set[str] = set()  # node types: "for_statement", "subshell", ...
        self.functions: set[str] = set()
        self.error = False
        # Character offset where the part to wrap starts: after a leading
        # `cd DIR && cd DIR2 && ` chain, which must stay in the agent's own shell.
        self.wrap_start = 0
        self.leading_cds: set[int] = set()


_parser: Any = None


def parse(source: str) -> Shape:
    """Parse `source`; a syntax error sets `shape.error` rather than raising."""
    data = source.encode("utf-8", "surrogatepass")
    tree = _get_parser().parse(data)
    shape = Shape(source)
    root = tree.root_node
    shape.error = bool(root.has_error)
    walker = _Walker(shape, data)
    walker.walk(root, False)
    _find_leading_cds(shape, root, data)
    return shape


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        core = _load_binding("tree_sitter")
        bash = _load_binding("tree_sitter_bash")
        _parser = core.Parser(core.Language(bash.language()))
    return _parser


def _load_binding(package: str) -> Any:
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec

    name = f"{package}._binding"
    if name in sys.modules:
        return sys.modules[name]
    for directory in _search_dirs():
        folder = os.path.join(directory, package)
        for suffix in EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_binding" + suffix)
            if os.path.isfile(path):
                loader = ExtensionFileLoader(name, path)
                spec = ModuleSpec(name, loader, origin=path)
                module = loader.create_module(spec)
                loader.exec_module(module)
                sys.modules[name] = module
                return module
    raise ParserUnavailable(f"{package} is not installed for {sys.executable} (pip install 'runq[hook]')")


def _search_dirs() -> list[str]:
    """sys.path first, then this interpreter's own site-packages.

    The hook runs under `-I -S`, so site-packages is absent from sys.path unless runq itself
    is installed there; in a development checkout tree-sitter still lives in the interpreter's
    (or venv's) site-packages, whose location follows from sys.prefix without importing `site`.
    """
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    dirs = [d for d in sys.path if d]
    for prefix in (sys.prefix, sys.exec_prefix, sys.base_prefix):
        dirs.append(os.path.join(prefix, "lib", version, "site-packages"))
    dirs.append(os.path.join(os.path.expanduser("~"), ".local", "lib", version, "site-packages"))
    return dirs


class _Walker:
    def __init__(self, shape: Shape, data: bytes) -> None:
        self.shape = shape
        self.data = data

    def text(self, node: Any) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "surrogateescape")

    def offset(self, byte_offset: int) -> int:
        return len(self.data[:byte_offset].decode("utf-8", "surrogateescape"))

    def walk(self, node: Any, nested: bool) -> None:
        kind = node.type
        if not node.is_named:
            if kind == "&":
                self.shape.background = True
            return
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, node, nested)
            return
        if kind in _COMPOUND:
            self.shape.compound = True
            self.shape.compounds.add(kind)
            if kind == "function_definition":
                name = node.child_by_field_name("name")
                if name is not None:
                    self.shape.functions.add(self.text(name))
            nested = True
        elif kind in _SUBSTITUTION:
            self.shape.substitution = True
            nested = True
        elif kind == "heredoc_redirect":
            self.shape.heredoc = True
        for child in node.children:
            self.walk(child, nested)

    def comment(self, node: Any, nested: bool) -> None:
        self.shape.comments.append(self.text(node))

    def command(self, node: Any, nested: bool) -> None:
        words: list[str | None] = []
        raw: list[str] = []
        assignments: list[str] = []
        redirects: list[tuple[str, str | None]] = []
        for child in node.children:
            kind = child.type
            if kind == "variable_assignment":
                name = child.child_by_field_name("name")
                assignments.append(self.text(name) if name is not None else self.text(child))
            elif kind == "command_name":
                words.append(literal(child.named_children[0], self) if child.named_children else None)
                raw.append(self.text(child))
            elif kind in _REDIRECTS:
                redirects.extend(self.redirects(child))
            elif child.is_named and kind != "comment":
                words.append(literal(child, self))
                raw.append(self.text(child))
            self.walk_inner(child)
        self.add(node, words, assignments, redirects, nested, raw)

    def declaration(self, node: Any, nested: bool) -> None:
        # `export A=1`, `local x`, `unset y`, `[[ ... ]]`: builtins with no command_name node.
        first = node.children[0] if node.children else None
        keyword = self.text(first) if first is not None and not first.is_named else node.type
        if node.type == "test_command":
            keyword = "[["
        words: list[str | None] = [keyword]
        words.extend(literal(child, self) for child in node.named_children)
        raw = [keyword] + [self.text(child) for child in node.named_children]
        for child in node.children:
            self.walk_inner(child)
        self.add(node, words, [], [], nested, raw)

    def assignment(self, node: Any, nested: bool) -> None:
        name = node.child_by_field_name("name")
        self.walk_inner(node)
        self.add(node, [], [self.text(name) if name is not None else ""], [], nested)

    def redirected(self, node: Any, nested: bool) -> None:
        first = len(self.shape.commands)
        redirects = []
        for child in node.children:
            if child.type in _REDIRECTS:
                redirects.extend(self.redirects(child))
                self.walk(child, nested)
            else:
                self.walk(child, nested)
        # tree-sitter-bash hangs a trailing redirect on a whole `a && b` list; attaching it to
        # every command inside over-approximates, which only ever makes the hook more careful.
        for command in self.shape.commands[first:]:
            command.redirects.extend(redirects)

    def redirects(self, node: Any) -> list[tuple[str, str | None]]:
        if node.type == "heredoc_redirect":
            # `cat <<EOF > out`: the file redirect sits inside the heredoc node
            self.shape.heredoc = True
            found: list[tuple[str, str | None]] = [("<<", None)]
            for child in node.named_children:
                if child.type == "file_redirect":
                    found.append(self.redirect(child))
            return found
        if node.type == "herestring_redirect":
            return [("<<<", None)]
        return [self.redirect(node)]

    def redirect(self, node: Any) -> tuple[str, str | None]:
        operator = ""
        target: str | None = None
        for child in node.children:
            if not child.is_named:
                operator = self.text(child)
            elif child.type != "file_descriptor":
                target = literal(child, self)
        return (operator, target)

    def walk_inner(self, node: Any) -> None:
        """Visit the substitutions and heredocs in (or forming) one word or redirect."""
        if node.type in _SUBSTITUTION or node.type == "heredoc_redirect":
            self.walk(node, True)
            return
        for child in node.children:
            self.walk_inner(child)

    def add(self, node: Any, words: list[str | None], assignments: list[str],
            redirects: list[tuple[str, str | None]], nested: bool, raw: list[str] | None = None) -> None:
        command = SimpleCommand(words, assignments, self.text(node), self.offset(node.start_byte),
                                self.offset(node.end_byte), nested, raw)
        command.redirects.extend(redirects)
        self.shape.commands.append(command)


_HANDLERS = {
    "comment": _Walker.comment,
    "command": _Walker.command,
    "declaration_command": _Walker.declaration,
    "unset_command": _Walker.declaration,
    "test_command": _Walker.declaration,
    "variable_assignment": _Walker.assignment,
    "redirected_statement": _Walker.redirected,
}


def literal(node: Any, walker: _Walker) -> str | None:
    """The value of a word that needs no expansion, or None."""
    kind = node.type
    text = walker.text(node)
    if kind == "word" or kind == "number":
        return _unescape(text) if "\\" in text else text
    if kind == "raw_string":
        return text[1:-1]
    if kind == "string":
        parts = []
        for child in node.named_children:
            if child.type != "string_content":
                return None
            parts.append(_unescape_double(walker.text(child)))
        return "".join(parts)
    if kind == "ansi_c_string":
        return text[2:-1] if "\\" not in text else None
    if kind == "concatenation":
        pieces = [literal(child, walker) for child in node.named_children]
        return None if any(piece is None for piece in pieces) else "".join(pieces)  # type: ignore[arg-type]
    return None


def _unescape(text: str) -> str:
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            index += 1
            if text[index] != "\n":  # backslash-newline is a line continuation
                out.append(text[index])
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _unescape_double(text: str) -> str:
    if "\\" not in text:
        return text
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '$`"\\\n':
            index += 1
            if text[index] != "\n":
                out.append(text[index])
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _find_leading_cds(shape: Shape, root: Any, data: bytes) -> None:
    """Mark a leading `cd A && cd B && rest` chain so the rewrite can leave it outside.

    Only a single top-level statement made of `&&` links qualifies: with a `||` or `;` in the
    chain, `cd A && <wrapper>` would no longer run the same commands when `cd` fails.
    """
    statements = [child for child in root.named_children if child.type != "comment"]
    if len(statements) != 1:
        return
    items: list[Any] = []
    operators: list[str] = []
    _flatten_list(statements[0], items, operators)
    if any(operator != "&&" for operator in operators):
        return
    cd_items = []
    for item in items[:-1]:
        if item.type != "command" or not _is_cd(item, data):
            break
        cd_items.append(item)
    if not cd_items:
        return
    rest = items[len(cd_items)]
    shape.wrap_start = len(data[:rest.start_byte].decode("utf-8", "surrogateescape"))
    shape.leading_cds = {len(data[:item.start_byte].decode("utf-8", "surrogateescape")) for item in cd_items}


def _flatten_list(node: Any, items: list[Any], operators: list[str]) -> None:
    if node.type != "list":
        items.append(node)
        return
    for child in node.children:
        if child.is_named:
            if child.type != "comment":
                _flatten_list(child, items, operators)
        else:
            operators.append(child.type)


def _is_cd(node: Any, data: bytes) -> bool:
    name = node.child_by_field_name("name")
    return name is not None and data[name.start_byte:name.end_byte] == b"cd"
