"""Template fragments kept per process: a macro's markup written once for the same inputs.

A 金融超市 card, an inbox row, a filter form and the main navigation are the same markup for the same
shown values on nearly every request, and writing them (translated words, labels, amounts, form
fields, escaping) cost most of their pages. `kept` writes a macro once per key, locale and script root
and hands out the same markup afterwards. Each key is built beside its fragment here from every value
the macro shows (a filter form's: the query string and the options read at request time; the
navigation's: the role and the page), so a changed product, lead, option or translation is a new key
and shows at once: there is nothing to invalidate, in this process or another. When the cache is full
it is emptied (keys of values no longer shown go with the rest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

from flask import current_app, request
from markupsafe import Markup

from portal.filters import current_translations

# At most some 30 MB a process: a filter form with its errors is ~8 KB in memory and its key a query
# string of up to 4 KB (gunicorn's request line), which anyone may send; a card or a row ~2 KB.
CACHE_SIZE = 2048
_cache: dict[tuple[Hashable, ...], Markup] = {}
# The translations whose ids are in keys, kept alive so that an id is not reused meanwhile.
_translations_kept: dict[int, Any] = {}


def kept(template: str, macro: str, key: tuple[Hashable, ...], *args: Any) -> Markup:
    """`macro(*args)` of `template`, written once per process for the same key (which must hold every
    value the macro shows), locale and script root."""
    return _kept(_context(template, macro), key, args)


def _context(template: str, macro: str) -> tuple[Hashable, ...]:
    """What every key of the macro starts with: its name, the request's locale and script root."""
    translations = current_translations()
    _translations_kept[id(translations)] = translations
    return (template, macro, id(translations), request.script_root)


def _kept(context: tuple[Hashable, ...], key: tuple[Hashable, ...], args: tuple[Any, ...]) -> Markup:
    full = (*context, key)
    found = _cache.get(full)
    if found is None:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        template, macro = context[0], context[1]
        module = current_app.jinja_env.get_template(cast(str, template)).module
        found = _cache[full] = cast(Markup, getattr(module, cast(str, macro))(*args))
    return found


def product_cards(products: Sequence[Any], badges: dict[int, Sequence[Any]]) -> Markup:
    """The 金融超市's cards (`public/_product_card.html`), each a product with its institution and scheme
    badges, one after the other on a line of its own."""
    context = _context("public/_product_card.html", "card")
    cards = []
    for product in products:
        shown = badges.get(product.id, ())
        key = (
            product.id,
            product.name,
            product.institution.name,
            str(product.max_amount),  # Decimals: 5 and 5.00 are equal but written differently
            str(product.rate_min),
            str(product.rate_max),
            product.min_term_months,
            product.max_term_months,
            tuple(product.collateral),
            tuple(product.tags),
            tuple((badge.name, badge.kind) for badge in shown),
        )
        cards.append(_kept(context, key, (product, shown)))
    # Markup.join would escape each part again; every part is markup already.
    return Markup("".join(f"{card}\n" for card in cards))  # noqa: S704  # nosec B704


def lead_rows(leads: Sequence[Any], now: dt.datetime) -> Markup:
    """The inbox's rows (`officer/_lead_row.html`), each a lead as the officer may see it, overdue or
    not, one after the other on a line of its own."""
    context = _context("officer/_lead_row.html", "row")
    rows = []
    for lead in leads:
        waiting = lead.status == "pushed" and lead.sla_due_at is not None
        overdue = waiting and lead.sla_due_at < now
        key = (
            lead.id,
            lead.status,
            overdue,
            lead.sla_due_at if waiting else None,
            lead.borrower.name if lead.borrower else None,
            lead.borrower is not None,
            lead.profile.kind,
            lead.profile.region_code,
            str(lead.amount),
            lead.term_months,
            lead.product.name,
            lead.claimed_by,
        )
        rows.append(_kept(context, key, (lead, overdue)))
    # Markup.join would escape each part again; every part is markup already.
    return Markup("".join(f"{row}\n" for row in rows))  # noqa: S704  # nosec B704


def filter_form(template: str, choices: Hashable, arguments: Callable[[], tuple[Any, ...]]) -> Markup:
    """A GET filter form (the macro `filters(*arguments())` of `template`), written once per process for
    the same query string and `choices` (its options read at request time, and whatever else the view
    decides its markup by): its values, errors and options follow from them alone. `arguments` (the
    form, ...) is called only to write it afresh, so that a view need not build the form otherwise."""
    context = _context(template, "filters")
    key = (tuple(request.args.items(multi=True)), choices)
    found = _cache.get((*context, key))
    return found if found is not None else _kept(context, key, arguments())


def navigation(role: str | None) -> Markup:
    """The main navigation (`_navigation.html`): the role's links, the current page's marked."""
    return kept("_navigation.html", "nav_bar", (role, request.endpoint), role)
