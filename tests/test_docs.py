"""Every reference in the project resolves inside the repository.

A person who clones the project has only what is in it. These tests read every file git
tracks (and the new files it does not ignore), outside `.venv`, and fail when one of them

* points at the developers' private notes (the folder next to the checkout, or the notes by
  name), which a clone does not have;
* names a Markdown file under `docs/` that does not exist;
* cites a section, written as the file's path, a space and a section sign followed by a
  heading (`docs/TESTING.md`, then the sign, then "Never loosened to pass"), whose heading is
  not in that file. Inside a file of `docs/` a section sign alone cites that file's own
  headings; anywhere else a section sign must name its file. A citation stays on one line.

No TensorFlow, no Numba: plain text.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SECTION_SIGN = "\u00a7"
# Split so that this file does not match itself.
PRIVATE_NOTES = ("../" + "shared", "keras-" + "numerics", "course-" + "notes",
                 "performance-" + "notes")
DOC_PATH = re.compile(r"(?<![\w/.-])docs/([A-Za-z0-9_.-]+\.md)")
# The path a section sign names: docs/<NAME>.md, then spaces, a comma or comment marks.
CITED_FILE = re.compile(r"(?<![\w/.-])docs/([A-Za-z0-9_.-]+\.md)[,\s#]*$")
SKIPPED_DIRS = {".git", ".venv", "__pycache__", "build", "out", ".hypothesis", ".pytest_cache",
                ".ruff_cache"}


def _project_files() -> list[str]:
    """Paths (relative to the root) of the tracked files and the untracked ones git does not
    ignore; every file below the root where git cannot tell (an unpacked archive)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True).stdout.decode()
        names = [n for n in listed.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(ROOT).parts)]
    return sorted({n for n in names
                   if not n.startswith(".venv/") and (ROOT / n).is_file()})


def _texts() -> dict[str, str]:
    """Each project file's text (binary files left out)."""
    texts = {}
    for name in _project_files():
        data = (ROOT / name).read_bytes()
        if b"\0" not in data:
            texts[name] = data.decode("utf-8", errors="replace")
    return texts


TEXTS = _texts()


def _where(name: str, text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    return f"{name}:{line}: {text.splitlines()[line - 1].strip()}"


def _headings(doc: str) -> list[str]:
    """The headings of docs/<doc>, longest first (so "A B" wins over "A")."""
    lines = (DOCS / doc).read_text(encoding="utf-8").splitlines()
    heads = [line.lstrip("#").strip() for line in lines if re.match(r"#+\s+\S", line)]
    return sorted(heads, key=len, reverse=True)


def test_the_files_are_found():
    assert "README.md" in TEXTS and "scratch/__init__.py" in TEXTS
    assert "tests/test_docs.py" in TEXTS
    assert not any(name.startswith(".venv/") for name in TEXTS)


def test_no_reference_to_the_private_notes():
    notes = re.compile("|".join(map(re.escape, PRIVATE_NOTES)), flags=re.IGNORECASE)
    hits = list(dict.fromkeys(_where(name, text, m.start())  # once per line
                              for name, text in TEXTS.items()
                              for m in notes.finditer(text)))
    assert not hits, ("These lines point at notes a clone of the project does not have; "
                      "cite docs/ instead:\n" + "\n".join(hits))


def test_every_docs_path_exists():
    missing = [_where(name, text, m.start())
               for name, text in TEXTS.items()
               for m in DOC_PATH.finditer(text)
               if not (DOCS / m.group(1)).is_file()]
    assert not missing, "These lines name a file docs/ does not have:\n" + "\n".join(missing)


def test_every_section_citation_names_a_heading_of_its_file():
    bad = []
    for name, text in TEXTS.items():
        for i in (m.start() for m in re.finditer(SECTION_SIGN, text)):
            cited = CITED_FILE.search(text, max(0, i - 200), i)
            if cited:
                doc = cited.group(1)
            elif name.startswith("docs/") and name.endswith(".md"):
                doc = name[len("docs/"):]
            else:
                bad.append(_where(name, text, i) + "   <- name the file: docs/<FILE>.md "
                           + SECTION_SIGN + "<heading>")
                continue
            if not (DOCS / doc).is_file():
                bad.append(_where(name, text, i) + f"   <- docs/{doc} does not exist")
                continue
            rest = text[i + 1:].split("\n", 1)[0]
            if not any(rest.startswith(h) and not rest[len(h):len(h) + 1].isalnum()
                       for h in _headings(doc)):
                bad.append(_where(name, text, i) + f"   <- no such heading in docs/{doc} "
                           "(keep a citation on one line)")
    assert not bad, "Section citations that do not resolve:\n" + "\n".join(bad)


def test_the_checks_catch_what_they_should():
    """The patterns above on made-up lines (so a test that passes is not a broken regex)."""
    assert DOC_PATH.search("see docs/" + "NOPE.md").group(1) == "NOPE.md"
    assert DOC_PATH.search("https://example.org/docs/x.md") is None
    assert CITED_FILE.search("# docs/TESTING.md\n# ").group(1) == "TESTING.md"
    assert CITED_FILE.search("the text " + "docs/TESTING.md, ") is not None
    assert CITED_FILE.search("no path here ") is None
    assert "Never loosened to pass" in _headings("TESTING.md")
    assert any(note in "see ../" + "shared/x.md" for note in PRIVATE_NOTES)
