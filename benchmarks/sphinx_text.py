"""Sphinx HTML page -> plain prose, for the documents benchmark (standard library only).

Keeps only the article (the element with ``role="main"``); inside it drops code blocks, the
permalink marks, admonition titles, tables of contents, footnote markers and the per-entry
boilerplate Sphinx repeats on many pages (Stable ABI, reference counts, availability, audit
events). An API entry keeps only its qualified name (``json.dumps``) as its own paragraph.
Block elements become paragraph breaks: the text is paragraphs separated by blank lines.
"""
from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

BLOCK_TAGS = {
    "p", "div", "section", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt",
    "dd", "table", "tr", "td", "th", "thead", "tbody", "blockquote", "br", "hr", "figure",
    "figcaption", "caption", "aside", "nav", "header", "footer",
}
VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base", "source"}
ALWAYS_SKIP_TAGS = {"script", "style", "pre", "nav", "noscript", "template", "button", "form"}
SKIP_CLASSES = {
    "headerlink",           # the ¶ permalink
    "admonition-title",     # "Note", "See also", "Warning" headings of admonitions
    "linenos",
    "sphinxsidebar", "related", "footer", "mobile-nav", "menu-wrapper",  # outside main anyway
    "toctree-wrapper",      # tables of contents embedded in index-like pages
    "contents",             # local "Contents" boxes (.. contents::)
    "footnote-reference",   # the "[1]" markers in running text (the footnotes themselves stay)
    # per-entry boilerplate repeated hundreds of times (near-duplicate chunks):
    "stableabi",            # "Part of the Stable ABI."          (c-api)
    "refcount",             # "Return value: New reference."     (c-api)
    "availability",         # "Availability: Unix, not Emscripten, not WASI."
    "audit-hook",           # "Raises an auditing event os.open with arguments ..."
}
_HEADING = re.compile(r"^h[1-6]$")
_SECTION_NUMBER = re.compile(r"^(\d+\.)+\s+")
_SPACE_BEFORE_CLOSE = re.compile(r"\s+([)\]](?=[\s.,;:]|$))")


class _MainTextParser(HTMLParser):
    def __init__(self, signatures: str = "name", keep_code: bool = False):
        super().__init__(convert_charrefs=True)
        if signatures not in ("name", "full", "drop"):
            raise ValueError("signatures must be 'name', 'full' or 'drop'")
        self.signatures = signatures
        self.keep_code = keep_code
        self.in_main = False
        self.main_done = False
        self.stack: list[tuple[str, bool, str]] = []  # (tag, skipped-here, role) inside main
        self.sig_depth = 0                      # >0 inside <dt class="sig"> (signatures="name")
        self.sig_name_depth = 0                 # >0 inside its sig-prename / sig-name spans
        self.skip_depth = 0                     # >0 while inside a dropped element
        self.parts: list[str] = []

    def _is_skipped(self, tag: str, attrs: dict[str, str]) -> bool:
        classes = set((attrs.get("class") or "").split())
        if tag in ALWAYS_SKIP_TAGS and not (self.keep_code and tag == "pre"):
            return True
        if classes & SKIP_CLASSES:
            return True
        if not self.keep_code and any(c.startswith("highlight") for c in classes) and tag == "div":
            return True
        if self.signatures == "drop" and tag == "dt" and "sig" in classes:
            return True
        return False

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if not self.in_main:
            if not self.main_done and attrs.get("role") == "main":
                self.in_main = True
                self.stack = [(tag, False, "")]
            return
        if tag in VOID_TAGS:
            if tag in BLOCK_TAGS and not self.skip_depth:
                self.parts.append("\n\n")
            return
        skipped = self._is_skipped(tag, attrs)
        classes = set(attrs.get("class", "").split())
        role = ""
        if self.signatures == "name" and not skipped:
            if tag == "dt" and "sig" in classes:
                role = "sig"
                self.sig_depth += 1
            elif self.sig_depth and classes & {"sig-prename", "sig-name"}:
                role = "signame"
                self.sig_name_depth += 1
        self.stack.append((tag, skipped, role))
        if skipped:
            self.skip_depth += 1
        elif not self.skip_depth and tag in BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag, attrs):
        if self.in_main and tag in BLOCK_TAGS and not self.skip_depth:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if not self.in_main or tag in VOID_TAGS:
            return
        # pop up to and including the matching tag (tolerates unclosed <p>, <li>, ...)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, skipped, role in self.stack[i:]:
                    if skipped:
                        self.skip_depth -= 1
                    if role == "sig":
                        self.sig_depth -= 1
                    elif role == "signame":
                        self.sig_name_depth -= 1
                del self.stack[i:]
                break
        else:
            return  # stray end tag
        if not self.stack:  # the main element itself closed
            self.in_main = False
            self.main_done = True
        elif not self.skip_depth and tag in BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self.in_main and not self.skip_depth and (not self.sig_depth or self.sig_name_depth):
            self.parts.append(data)

    def text(self) -> str:
        raw = "".join(self.parts)
        paragraphs = []
        for para in re.split(r"\n\s*\n", raw):
            para = " ".join(para.split())
            para = _SECTION_NUMBER.sub("", para)  # "4.1. if Statements" -> "if Statements"
            para = _SPACE_BEFORE_CLOSE.sub(r"\1", para)  # "JavaScript )." (dropped "[1]") -> "JavaScript)."
            if para:
                paragraphs.append(para)
        return "\n\n".join(paragraphs)


def html_to_text(html: str, signatures: str = "name", keep_code: bool = False) -> str:
    parser = _MainTextParser(signatures=signatures, keep_code=keep_code)
    parser.feed(html)
    parser.close()
    return parser.text()


def read_html(path: str | Path) -> str:
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")
