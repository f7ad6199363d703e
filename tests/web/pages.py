"""Read pages the way a browser does: find a form, fill it in, press one of its buttons.

``submit(client, page, form="need-form", fields={...}, button="accept")`` posts exactly the
name/value pairs a browser would send for that form (hidden inputs included, in document
order, duplicates kept), so a form that only works when posted by hand is caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict


@dataclass
class Control:
    name: str
    kind: str  # hidden, text, checkbox, radio, select, textarea, submit...
    value: str = ""
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # select: (value, selected)
    multiple: bool = False
    element_id: str | None = None


@dataclass
class Form:
    action: str | None
    element_id: str | None
    ancestors: tuple[str, ...] = ()  # ids of the elements around the form
    controls: list[Control] = field(default_factory=list)

    def buttons(self) -> list[Control]:
        return [c for c in self.controls if c.kind in ("submit", "button", "image")]


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: Control | None = None
        self._option: list | None = None
        self._textarea: Control | None = None
        self._stack: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag not in VOID:
            self._stack.append((tag, a.get("id")))
        for attribute in ("href", "src", "action", "formaction"):
            if attribute in a:
                self.links.append(a[attribute])
        if tag == "form":
            self._form = Form(a.get("action"), a.get("id"), tuple(i for _, i in self._stack[:-1] if i))
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            self._form.controls.append(Control(name, kind, a.get("value", "on" if kind in ("checkbox", "radio") else ""),
                                               "checked" in a, element_id=a.get("id")))
        elif tag == "button" and name:
            self._form.controls.append(Control(name, a.get("type", "submit").lower(), a.get("value", ""), element_id=a.get("id")))
        elif tag == "select" and name:
            self._select = Control(name, "select", multiple="multiple" in a, element_id=a.get("id"))
            self._form.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
        elif tag == "textarea" and name:
            self._textarea = Control(name, "textarea", element_id=a.get("id"))
            self._form.controls.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                break
        if tag == "form":
            self._form = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value = self._option[0] if self._option[0] is not None else self._option[2].strip()
            self._select.options.append((value, self._option[1]))
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._textarea.value.startswith("\n"):
                self._textarea.value = self._textarea.value[1:]  # as the HTML parsing rules say
            self._textarea = None


def parse(html: bytes | str) -> _Parser:
    parser = _Parser()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    parser.close()
    return parser


def find_form(html: bytes | str, form: str) -> Form:
    """The form whose id is ``form``, else the form inside the element ``#id``, else whose
    action ends with ``form``, else the first form with a control named ``form``."""
    forms = parse(html).forms
    if form.startswith("#"):
        inside = [f for f in forms if form[1:] in f.ancestors]
        assert inside, f"no form inside {form}"
        return inside[0]
    for candidate in forms:
        if candidate.element_id == form:
            return candidate
    for candidate in forms:
        if candidate.action and candidate.action.split("?")[0].endswith(form):
            return candidate
    for candidate in forms:
        if any(c.name == form for c in candidate.controls):
            return candidate
    raise AssertionError(f"no form {form!r} on the page; forms: {[(f.element_id, f.action) for f in forms]}")


def form_data(form: Form, fields: dict | None = None, button: str | None = None) -> MultiDict:
    """What a browser sends: every successful control in document order. ``fields`` sets what
    the user types/chooses in visible controls (a list for multi-valued ones); hidden inputs
    are sent as they are. ``button`` is the id or name of the button pressed."""
    fields = dict(fields or {})
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for control in form.controls:
        if control.kind in ("submit", "button", "image", "reset"):
            continue
        if control.kind == "hidden":
            pairs.append((control.name, control.value))
            continue
        if control.name in fields:
            if control.name in used:
                continue
            used.add(control.name)
            wanted = fields[control.name]
            values = wanted if isinstance(wanted, (list, tuple)) else [wanted]
            if control.kind == "checkbox" and not isinstance(wanted, (list, tuple)):
                # a single checkbox: True/False (or the value itself)
                if wanted in (True, "y", "on", control.value):
                    pairs.append((control.name, control.value))
                continue
            pairs.extend((control.name, str(v)) for v in values if v is not None and v is not False)
            continue
        if control.kind in ("checkbox", "radio"):
            if control.checked:
                pairs.append((control.name, control.value))
        elif control.kind == "select":
            selected = [v for v, s in control.options if s]
            if not selected and not control.multiple and control.options:
                selected = [control.options[0][0]]
            pairs.extend((control.name, v) for v in selected)
        else:
            pairs.append((control.name, control.value))
    for name in set(fields) - used:
        wanted = fields[name]
        values = wanted if isinstance(wanted, (list, tuple)) else [wanted]
        pairs.extend((name, str(v)) for v in values)
    if button is not None:
        pressed = [b for b in form.buttons() if button in (b.element_id, b.name)]
        assert pressed, f"no button {button!r} in the form; buttons: {[(b.element_id, b.name) for b in form.buttons()]}"
        if pressed[0].name:
            pairs.append((pressed[0].name, pressed[0].value))
    return MultiDict(pairs)


def submit(client, page, form: str, fields: dict | None = None, button: str | None = None, *, page_url: str = "",
           follow_redirects: bool = False):
    """Fill in and send a form of ``page`` (a response) as a browser would."""
    found = find_form(page.data, form)
    action = found.action or page_url or page.request.path
    return client.post(action, data=form_data(found, fields, button), follow_redirects=follow_redirects)


def links(html: bytes | str) -> list[str]:
    """Every URL in the page: href, src, action and formaction attributes."""
    return parse(html).links


def flashes(response) -> list[str]:
    """The flash messages shown on a page."""
    text = response.data.decode()
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<div class="flash flash-\w+" role="status">(.*?)</div>', text, re.S)]


def section(response, element_id: str) -> str:
    """The HTML of the element with ``id=element_id`` (up to its closing tag, flat match)."""
    text = response.data.decode()
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', text, re.S)
    return match.group(2) if match else ""
