"""Match a record's lead names to the leads a model needs (one matcher for every model family).

Names are compared case-insensitively after stripping spaces. Records whose leads carry no
identity (``lead0``, ``ch 1``, ``3``... as CSV/NPY files give) are taken in the model's order
when their number matches, and the caller is told so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ecglens.errors import EcgLensError

_GENERIC_PREFIXES = ("lead", "ch", "channel", "sig", "signal")


def is_generic_lead_name(name: str) -> bool:
    """True for names that only number a channel (``3``, ``lead_2``, ``ch 1``)."""
    n = name.strip().lower()
    return n.isdigit() or any(
        n.startswith(g) and n[len(g) :].strip("_ ").isdigit() for g in _GENERIC_PREFIXES
    )


def lead_order(
    names: Sequence[str], model_leads: Sequence[str], where: str | Path | None = None
) -> tuple[list[int], str | None]:
    """Column of ``names`` for each of ``model_leads``, and a note when the order was assumed.

    Raises :class:`EcgLensError` naming ``where`` and the leads when the record does not have
    exactly the model's leads (a count mismatch, a missing or a duplicated lead).
    """
    names = [str(n) for n in names]
    model_leads = [str(n) for n in model_leads]
    n_model = len(model_leads)
    if len(names) != n_model:
        raise EcgLensError(
            f"{len(names)} leads ({', '.join(names)}); the model needs {n_model}: "
            f"{', '.join(model_leads)}",
            where,
        )
    if all(is_generic_lead_name(n) for n in names):
        return list(range(n_model)), (
            f"lead names {names[0]}..{names[-1]} carry no lead identity: taken in the standard "
            f"order {', '.join(model_leads)}"
        )
    upper = [n.strip().upper() for n in names]
    missing = [lead for lead in model_leads if lead.upper() not in upper]
    duplicated = sorted({n for n in upper if upper.count(n) > 1})
    if missing or duplicated:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"duplicated {', '.join(duplicated)}"] if duplicated else []
        )
        raise EcgLensError(
            f"leads {', '.join(names)} do not match the model's {', '.join(model_leads)} "
            f"({'; '.join(problems)})",
            where,
        )
    return [upper.index(lead.upper()) for lead in model_leads], None
