"""Names a hostile network file may carry, shared by the tests of every output format.

Each is something a name, title, description or input name must never do: run a LaTeX command,
open HTML, be read as rich markup, or move the terminal's cursor. Control characters are refused
when the file is read (a positioned error); everything else is data and is shown as written.
"""

from __future__ import annotations

# shown as written, in every format (escaped as each format needs)
PRINTABLE = (
    "layer [hidden]",
    "[/]",
    "[bold red]x[/bold red]",
    "[link=file:///etc/passwd]click[/link]",
    r"\input{/etc/passwd}",
    r"\immediate\write18{touch pwned}",
    r"$\x$ & % # _ ^ ~ { } \\",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a & b < c > d \" ' `",
    "| pipe | table |",
    "*emph* _u_ `code` <!-- -->",
    "%&{}",
)

# refused at load time: no control character reaches any output
CONTROL = (
    "evil\x1b[2J\x1b[31mred",
    "bell\x07",
    "carriage\rreturn",
    "line\nbreak",
    "nul\x00byte",
    "del\x7f",
    "c1\x9bcsi",
    "bidi\u202eoverride",
    "line\u2028separator",
)
