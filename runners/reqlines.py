"""What a dashboard's requirements.txt may say: requirements, nothing pip would take as an
option, a file, a URL or a variable. The layer is a function of the checked lines alone
(runners.layers), and pip is given only them — so packages come from the admin's index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from runners.errors import RequirementsFailed

FILE = "requirements.txt"
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_AFTER_NAME = re.compile(r"\s*(?:$|[\[(<>=!~;@])")
_PIP_LINE = re.compile(r"\(line (\d+)\)")  # in pip's own errors
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HASH = re.compile(r"^--hash=[a-z0-9]+:[0-9a-fA-F]+$")
# pip takes a name ending so as a local file (its archive extensions, and a few more).
_ARCHIVE = re.compile(
    r"\.(?:whl|zip|tar|tgz|gz|bz2|tbz2?|xz|txz|lz|tlz|lzma|zst|egg)$", re.IGNORECASE
)
# Before extras, options or markers too (pip strips them from a path: the re-test).
_ARCHIVE_ANYWHERE = re.compile(_ARCHIVE.pattern[:-1] + r"(?=$|[\s\[\]();,])", re.IGNORECASE)


def requirement_lines(text: str) -> list[str]:
    """The requirements of ``text``, one per logical line (continuations joined, comments
    and blank lines dropped); :class:`RequirementsFailed` naming the first line that is
    not a requirement."""
    found: list[str] = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            first = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            found.append(_checked(line, first))
    if pending.strip():
        found.append(_checked(pending.strip(), first))
    return found


def _checked(line: str, number: int) -> str:
    def refused(why: str) -> RequirementsFailed:
        return RequirementsFailed(f"{FILE} line {number} ({line[:80]!r}): {why}")

    if line.startswith("-"):
        raise refused("pip options are the admin's (the package index above all): only "
                      "requirements may be listed")  # fmt: skip
    if "${" in line:
        raise refused("${…} is not part of a requirement (pip would fill in its environment)")
    name = _NAME.match(line)
    if name is None or not _AFTER_NAME.match(line, name.end()) or _ARCHIVE.search(name[0]):
        raise refused(
            "not a requirement (a package name, maybe with a version and extras); local "
            "paths, archives and other files are not allowed"
        )
    rest = line[name.end() :].strip()
    requirement = rest.split(";", 1)[0].split(" -", 1)[0]  # before markers and options
    if "@" in requirement or ":" in requirement or _URL.search(rest):
        raise refused("packages come from this hub's index (c.Podium.pip_args), not from a URL")
    # pip takes a line with a slash, or whose requirement ends like an archive, as a path
    # (the re-test: "pkg>=1/../../home/carol/pkg.tar.gz" built the owner's own sdist).
    if "/" in line or "\\" in line or _ARCHIVE_ANYWHERE.search(line):
        raise refused("local paths, archives and other files are not allowed")
    # pip reads everything from the first word that begins with "-" as options (quotes
    # and all): there, only plain --hash=algorithm:digest words.
    words = rest.split()
    first = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    if any(not _HASH.match(word) for word in words[first:]):
        raise refused("only --hash=algorithm:digest options may follow a requirement")
    return line


def pip_failure(tail: Sequence[str], lines: Sequence[str], original: str) -> str:
    """What pip refused, in the creator's words: the line of their file and pip's error."""
    errors = [line.removeprefix("ERROR: ").strip() for line in tail if line.startswith("ERROR:")]
    said = errors[-1] if errors else (tail[-1].strip() if tail else "see the log")
    told = " ".join(errors)
    named = [line for line in lines if re.split(r"[\s;]", line)[0] in told]
    # A package's own build failed: pip's last line marked with a cross says what failed,
    # the next the package (its very last, "hint: See above for details.", told nothing).
    crossed = [i for i, line in enumerate(tail) if line.startswith("×")]
    if not errors and crossed:
        said = f"{tail[crossed[-1]].lstrip('× ').strip()} (its output is in the log)"
        package = (
            _canonical(tail[crossed[-1] + 1].lstrip("╰─> ")) if len(tail) > crossed[-1] + 1 else ""
        )
        named = [line for line in lines if _canonical(line) == package]
    by_number = [lines[int(m.group(1)) - 1] for m in map(_PIP_LINE.search, errors)
                 if m and 0 < int(m.group(1)) <= len(lines)]  # fmt: skip
    wanted = (by_number or sorted(named, key=len)[-1:] or [""])[0]
    if not wanted:
        return f"{FILE} could not be installed: {said}"
    number = next((n for n, raw in enumerate(original.splitlines(), 1)
                   if raw.strip().startswith(wanted.split()[0])), 0)  # fmt: skip
    return f"{FILE} line {number} ({wanted!r}) could not be installed: {said}"


def _canonical(line: str) -> str:
    """A requirement's name as pip compares them (``Foo.Bar_baz`` is ``foo-bar-baz``)."""
    found = _NAME.match(line.strip())
    return re.sub(r"[-_.]+", "-", found.group(0)).lower() if found else ""
