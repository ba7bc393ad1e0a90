"""One row's explanation, and the totals', assembled from the walk's records and each layer's facts. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from toolkit.explain.costs import activation_terms, mac_term, memory_terms, nbytes, param_memory_term
from toolkit.explain.params import PARAMS, param_terms
from toolkit.explain.receptive import Step, receptive_terms
from toolkit.explain.records import LayerFacts, Msg, Term, first, msg
from toolkit.explain.shapes import shape_term
from toolkit.records import CallRecord, ModelRecord
from toolkit.render.explanation_view import Explanation


@dataclass(frozen=True)
class Context:
    """What every explanation of one summary shares."""

    record: ModelRecord
    facts: Callable[[str], LayerFacts]
    steps: Mapping[str, Step]
    batch_size: int

    def children(self, address: str) -> list[CallRecord]:
        return [r for r in self.record.rows if r.container == address]

    def first_call(self, row: CallRecord) -> CallRecord:
        return next(r for r in self.record.rows if r.layer_id == row.layer_id and r.called)


def _container_params(row: CallRecord, facts: LayerFacts, ctx: Context) -> Term:
    """A nested model (or block): the sum of the layers called inside it, each weight once, plus its own."""
    seen: set[int] = set()
    parts: list[tuple[str, int]] = []
    layers_seen: set[int] = set()
    for child in ctx.children(row.address):
        if child.layer_id in layers_seen:
            continue
        layers_seen.add(child.layer_id)
        new = [w for w in ctx.facts(child.address).weights if w.key not in seen]
        seen.update(w.key for w in new)
        if new:
            parts.append((child.address.rsplit("/", 1)[-1], sum(w.size for w in new)))
    names = ", ".join(name for name, _ in parts) or "-"
    own = sum(w.size for w in facts.weights if w.key not in seen)
    notes = (msg("the last {n} are weights it made itself (add_weight)", n=own),) if own else ()
    if own:
        parts.append(("", own))
    total = sum(n for _, n in parts)
    return Term(
        "params",
        PARAMS,
        msg("the sum of the layers called inside it, each weight once: {names}", names=names),
        " + ".join(f"{n:,}" for _, n in parts) or "0",
        f"{total:,}",
        total,
        known=total == facts.count,
        arithmetic=True,
        notes=notes,
    )


def _param_notes(row: CallRecord, value: int | None, ctx: Context) -> tuple[Msg, ...]:
    if not row.called:
        return (msg("never called: Keras may not have built its weights"),)
    if row.repeat:
        return (
            msg(
                "another call of a layer listed at {first}: the same weights, counted there, so this row adds 0",
                first=ctx.first_call(row).address,
            ),
        )
    if value is not None and row.params < value:
        return (
            msg(
                "{n} of them belong to an earlier row that uses the same weights: counted there, once",
                n=value - row.params,
            ),
        )
    return ()


def explain_row(row: CallRecord, ctx: Context) -> Explanation:
    facts = ctx.facts(row.address)
    x = first(row.input_shapes)
    if row.class_name == "Weights":
        terms = [
            Term(
                "params",
                PARAMS,
                msg("weights the model made itself (add_weight), weight by weight"),
                " + ".join(f"{w.size:,}" for w in facts.weights) or "0",
                f"{facts.count:,}",
                facts.count,
                arithmetic=True,
            )
        ]
        if facts.weights:
            terms.append(param_memory_term({w.key: (w.size, w.dtype) for w in facts.weights}))
        return Explanation(
            row.address,
            row.class_name,
            msg("{row}: where its numbers come from", row=row.name),
            tuple(terms),
            batch_size=ctx.batch_size,
        )
    params = _container_params(row, facts, ctx) if row.is_container else param_terms(facts, x)[0]
    extra = [] if row.is_container else param_terms(facts, x)[1:]
    notes = _param_notes(row, params.value, ctx)
    params = replace(params, notes=params.notes + notes)
    terms = [params, *extra]
    if row.called:
        terms.append(shape_term(facts, row.input_shapes, row.output_shapes, is_input=row.class_name == "InputLayer"))
    terms.append(mac_term(row, facts, ctx.children(row.address)))
    terms += memory_terms(facts, row, ctx.batch_size)
    terms += receptive_terms(row, ctx.steps.get(row.address), ctx.steps)
    title = msg(
        "{row} ({cls}): where its numbers come from, for a batch of {batch}",
        row=row.address,
        cls=row.class_name,
        batch=ctx.batch_size,
    )
    return Explanation(row.address, row.class_name, title, tuple(terms), batch_size=ctx.batch_size)


def _sum_term(kind: str, what: Msg, rows: Sequence[tuple[str, int]], total: int) -> Term:
    names = ", ".join(a for a, _ in rows) or "-"
    return Term(
        kind,
        what,
        msg("the sum of the rows that own weights, each shared weight counted once: {rows}", rows=names),
        " + ".join(f"{n:,}" for _, n in rows) or "0",
        f"{total:,}",
        total,
        arithmetic=True,
        owners=tuple(a for a, _ in rows),
    )


def explain_totals(ctx: Context) -> Explanation:
    record = ctx.record
    top = [r for r in record.rows if r.depth == 0]
    terms = [
        _sum_term("params", msg("Total params"), [(r.address, r.params) for r in top if r.params], record.total_params),
        _sum_term(
            "params.trainable",
            msg("Trainable params"),
            [(r.address, r.trainable_params) for r in top if r.trainable_params],
            record.trainable_params,
        ),
    ]
    if record.non_trainable_params:
        terms.append(
            _sum_term(
                "params.non_trainable",
                msg("Non-trainable params"),
                [(r.address, r.non_trainable_params) for r in top if r.non_trainable_params],
                record.non_trainable_params,
            )
        )
    notes = [
        msg("{row}: the same weights as {first}, counted once", row=r.address, first=ctx.first_call(r).address)
        for r in top
        if r.repeat
    ]
    known = [r for r in top if r.macs is not None and r.called]
    macs = sum(int(r.macs or 0) for r in known)
    terms.append(
        Term(
            "macs",
            msg("MACs per sample"),
            msg("the sum of the rows' MACs"),
            " + ".join(f"{r.macs:,}" for r in known if r.macs) or "0",
            f"{macs:,}",
            macs,
            arithmetic=True,
        )
    )
    unknown = [r.address for r in top if r.macs is None and r.called]
    if unknown:
        notes.append(msg("MACs unknown (not in the sum): {rows}", rows=", ".join(unknown)))
    variables: dict[int, tuple[int, str]] = {}
    for r in top:
        for w in ctx.facts(r.address).weights:
            variables.setdefault(w.key, (w.size, w.dtype))
    if variables:
        terms.append(param_memory_term(variables))
    terms += _activation_totals(ctx)
    title = msg(
        "Model {name}: where the totals come from, for a batch of {batch}", name=record.name, batch=ctx.batch_size
    )
    return Explanation("", "Model", title, tuple(terms), tuple(notes), batch_size=ctx.batch_size)


def _activation_totals(ctx: Context) -> list[Term]:
    forward: list[tuple[str, int]] = []
    training = 0
    unknown: list[str] = []
    for r in ctx.record.rows:
        if r.is_container or not r.called or not r.output_shapes:
            continue
        terms = activation_terms(ctx.facts(r.address), r, ctx.batch_size)
        if terms[0].value is None:
            unknown.append(r.address)
            continue
        forward.append((r.address, int(terms[0].value)))
        training += int(terms[1].value)
    total = sum(n for _, n in forward)
    notes = (msg("unknown sizes (not in the sum): {rows}", rows=", ".join(unknown)),) if unknown else ()
    return [
        Term(
            "activations",
            msg("Activation memory (forward)"),
            msg("the sum of every call's outputs, if all were kept at once"),
            " + ".join(f"{n:,}" for _, n in forward) or "0",
            nbytes(total),
            total,
            arithmetic=True,
            notes=notes,
            owners=tuple(a for a, _ in forward),
        ),
        Term(
            "activations.training",
            msg("Kept for training"),
            msg("2 * forward for every call's output, 1 * for the model's inputs (the rule of each row)"),
            "",
            nbytes(training),
            training,
        ),
    ]
