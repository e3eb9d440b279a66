"""Text that the gate does not control, made into literal text for one markdown cell or line.

The pull-request comment shows strings that come from the measured tree or from a results file
that anyone could have written: the frameworks' versions (the head tree's `keras.__version__`),
the workers' exception text, case ids, verdict reasons, skip reasons, the machine's name. GitHub
renders a comment as markdown with some HTML, so unescaped, one of them could close the comment's
`<details>`, print a line that reads like the gate's own headline (`### ... 9 pass`), embed an
image or a link, or notify people (`@team`). `inline` is the one place where such a value is made
safe; `code` shows it in a code span when it is plain enough for one.

What `inline` guarantees for any input (tested on hostile strings in tests/unit/test_comment.py):
- one line: control, format (bidi overrides, zero-width) and separator characters, newlines
  included, become spaces; whitespace runs become one space;
- no HTML and no entity: `<` and `&` are written as `&lt;` and `&amp;`;
- no markdown construct: ``\\ ` * _ [ ] ~`` are backslash-escaped (no code span, emphasis, link
  or image), a leading `# `, `>`, `- `, `+ `, `---` or `1. ` is escaped (no heading, quote, list
  or rule where the value starts a line), and `|` is escaped in table cells;
- no notification: a zero-width joiner follows every `@` and every `#` before a digit, so neither
  `@someone` nor `#123` links or notifies;
- at most `cap` characters of the input (CAP = 200 unless the caller says), then an ellipsis.
"""

from __future__ import annotations

import re
import unicodedata

# The longest piece of outside text one value shows, in characters of the input.
CAP = 200
ELLIPSIS = "\u2026"
# Inserted after `@` and `#`: invisible, but GitHub's mention and reference links need the name or
# number to follow directly.
JOINER = "\u200d"

# Characters that are not text: controls, format characters (bidi overrides, zero-width), line and
# paragraph separators, surrogates, private use.
_NOT_TEXT = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co"})
_ESCAPES = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "~": "\\~",
    "<": "&lt;",
    "&": "&amp;",
}
# What a line may start with that makes a block: a heading, a quote, a list item, a rule (`*`
# and `_` are escaped everywhere).
_BLOCK_START = re.compile(r"#{1,6}(?: |$)|>|[-+](?: |$)|-{3}|\d{1,9}[.)](?: |$)")
# What a code span may show as is: case ids (pytest's `test_x[a-b]` too), commits, versions, refs.
_PLAIN = re.compile(r"[A-Za-z0-9 _.,:;=+/()\[\]-]+")


def one_line(value: object, cap: int = CAP) -> str:
    """`value` as text on one line, without invisible characters, cut to `cap` characters."""
    text = "".join(
        " " if unicodedata.category(ch) in _NOT_TEXT else ch for ch in str(value)
    ).split()
    flat = " ".join(text)
    if len(flat) > cap:
        flat = flat[: max(cap - 1, 0)].rstrip() + ELLIPSIS
    return flat


def inline(value: object, cap: int = CAP, *, table: bool = False) -> str:
    """`value` as literal markdown text on one line: see the module's docstring for what it keeps
    out. `table`: the text goes into a table cell, so `|` is escaped too."""
    flat = one_line(value, cap)
    out = []
    for index, ch in enumerate(flat):
        following = flat[index + 1 : index + 2]
        if ch == "|" and table:
            out.append("\\|")
        elif ch == "@" or (ch == "#" and following.isdigit()):
            out.append(ch + JOINER)
        else:
            out.append(_ESCAPES.get(ch, ch))
    text = "".join(out)
    block = _BLOCK_START.match(text)
    if block:
        # A backslash before the punctuation that makes the block: "\\### ", "\\> ", "12\\. ".
        at = len(block.group()) - len(block.group().lstrip("0123456789"))
        text = text[:at] + "\\" + text[at:]
    return text


def code(value: object, cap: int = CAP, *, table: bool = False) -> str:
    """`value` in a code span when it is plain (letters, digits, `_.,:;=+/()[]-`, spaces), else as
    `inline` text: a code span would show `<`, `@` or a backtick literally but cannot escape
    them for the raw text that other tools read."""
    flat = one_line(value, cap)
    if _PLAIN.fullmatch(flat):
        return f"`{flat}`"
    return inline(flat, cap, table=table)
